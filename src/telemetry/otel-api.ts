/**
 * How the core reaches `@opentelemetry/api`, an OPTIONAL peer dependency: the package
 * must load, and every request must work, in a program that never installed it.
 *
 * Rules for the rest of src/telemetry (and for the layers that use it):
 * - import the API's types only (`import type ... from '@opentelemetry/api'`): type
 *   imports vanish at build time;
 * - reach the API's values through {@link otelApi} at the moment they are needed, never
 *   at module load, and treat `undefined` as "telemetry through OpenTelemetry is off".
 *
 * The load is a synchronous, guarded `require` (the API ships a CommonJS build), done
 * once and cached, failure included. Synchronous matters: a mesh made by `createMesh`
 * records its first request at once, so an asynchronous `import()` would lose the first
 * requests' spans and metrics. The `require` comes from `createRequire(import.meta.url)`,
 * so the API is resolved from this package's place in node_modules, as a static import
 * would resolve it (dist/index.js and dist/index.cjs both checked). Two copies of the API (the
 * application's ES build and this CommonJS one) share their state: the API keeps its
 * registered providers and context keys on `globalThis` for exactly that case.
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module's namespace, as {@link otelApi} returns it. */
export type OtelApiModule = typeof OtelApi;

/** Not yet tried: `undefined`; tried and missing: `null`. */
let cached: OtelApiModule | null | undefined;

/** The loader; replaced in tests through {@link setOtelApiLoaderForTests}. */
let loader: () => OtelApiModule = defaultLoader;

function defaultLoader(): OtelApiModule {
  // Not the bare `require`: a bundler rewrites it in an ES build into a stub that throws.
  // The CommonJS build gets import.meta.url from tsup's shims (tsup.config.ts).
  return createRequire(import.meta.url)('@opentelemetry/api') as OtelApiModule;
}

/**
 * `@opentelemetry/api` when it is installed, otherwise `undefined`. Loaded on the first
 * call and cached (a missing API is not looked for again). Never throws.
 */
export function otelApi(): OtelApiModule | undefined {
  if (cached === undefined) {
    try {
      const api = loader();
      // A module without the API's entry points (a stub, a broken install) counts as missing.
      cached = typeof api?.trace?.getTracer === 'function' && typeof api.metrics?.getMeter === 'function' ? api : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

/**
 * Replaces the loader and forgets what was loaded, so a test can see the mesh without the
 * API. Pass nothing to restore the real loader.
 *
 * @internal
 */
export function setOtelApiLoaderForTests(replacement?: () => OtelApiModule): void {
  loader = replacement ?? defaultLoader;
  cached = undefined;
}
