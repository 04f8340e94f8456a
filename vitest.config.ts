import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Tests and examples import 'proxyless' as users do; here it means the sources.
    alias: [
      { find: /^proxyless$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      // The subpath entries (package.json "exports"): proxyless/balance, /policy, /config, /discovery.
      { find: /^proxyless\/(balance|policy|config|discovery)$/, replacement: fileURLToPath(new URL('./src/entries/$1.ts', import.meta.url)) },
      // The adapters too, for examples that use them (the demo's replicas).
      { find: /^@proxyless\/(etcd|express|fastify)$/, replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The machines are shared and small (2 cores): keep parallelism modest.
    maxWorkers: 2,
  },
});
