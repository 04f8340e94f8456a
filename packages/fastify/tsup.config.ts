import { defineConfig } from 'tsup';

// Built from this directory (`npx tsup` in packages/fastify). The core and Fastify stay
// imports: the app brings one `proxyless` and one `fastify`, shared with this package.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  external: ['proxyless', 'fastify', 'fastify-plugin'],
});
