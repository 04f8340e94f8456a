import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm', 'cjs'],
  // @internal members stay out of the published declarations (they name internal types,
  // some from devDependencies such as @types/dns-packet).
  dts: { compilerOptions: { stripInternal: true } },
  sourcemap: true,
  clean: true,
  target: 'node22',
  platform: 'node',
});
