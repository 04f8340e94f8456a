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
  // src/telemetry/otel-api.ts takes a require from import.meta.url in the ES build; this
  // gives the CommonJS build a working import.meta.url instead of an empty import.meta.
  shims: true,
});
