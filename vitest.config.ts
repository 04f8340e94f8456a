import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The subpath entries as package.json "exports" publishes them (proxyless/balance, /policy,
// /config, /discovery, /telemetry, /security, /tls, /inbound): each to its source file.
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { exports: Record<string, string | Record<string, unknown>> };
const subpaths = Object.entries(pkg.exports).flatMap(([key, target]) =>
  key !== '.' && typeof target === 'object' && typeof target['proxyless-source'] === 'string'
    ? [{ find: `proxyless/${key.slice(2)}`, replacement: fileURLToPath(new URL(target['proxyless-source'], import.meta.url)) }]
    : [],
);

export default defineConfig({
  resolve: {
    // Tests and examples import 'proxyless' as users do; here it means the sources.
    alias: [
      { find: /^proxyless$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      ...subpaths,
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
