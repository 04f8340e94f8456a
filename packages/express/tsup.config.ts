import { defineConfig } from 'tsup';

// Built from this directory (`npx tsup` in packages/express). The core and Express stay
// imports: the app brings one `proxyless` and one `express`, shared with this package.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  external: ['proxyless', 'express'],
});
