import { defineConfig } from 'tsup';

export default defineConfig({
  // The root entry, the documented subpath entries (package.json "exports") and the CLI.
  entry: {
    index: 'src/index.ts',
    balance: 'src/entries/balance.ts',
    policy: 'src/entries/policy.ts',
    config: 'src/entries/config.ts',
    discovery: 'src/entries/discovery.ts',
    telemetry: 'src/entries/telemetry.ts',
    security: 'src/entries/security.ts',
    tls: 'src/entries/tls.ts',
    inbound: 'src/entries/inbound.ts',
    admin: 'src/entries/admin.ts',
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  // Shared chunks in both formats: an error class or a balancer reached through two
  // entries is one class (instanceof holds across proxyless and proxyless/policy), in
  // CommonJS as in ES modules.
  splitting: true,
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
