import { defineConfig } from 'tsup';

// Built from this directory (`npx tsup` in packages/etcd). The core and the etcd client
// stay imports: the app brings one `proxyless`, shared with this package.
export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
  external: ['proxyless', 'etcd3'],
});
