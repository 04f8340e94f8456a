/**
 * How the inbound side reaches `@opentelemetry/api`, an OPTIONAL peer dependency: types
 * only at compile time, the module through one guarded synchronous `require` at run time
 * (cached, failure included), so the package loads and serves requests without it.
 * (The same rule as src/telemetry's loader; the two become one when telemetry lands.)
 */
import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` namespace. */
export type OtelApiModule = typeof OtelApi;

let cached: OtelApiModule | null | undefined;
let loader: () => OtelApiModule = defaultLoader;

function defaultLoader(): OtelApiModule {
  const req = typeof require === 'function' ? require : createRequire(import.meta.url);
  return req('@opentelemetry/api') as OtelApiModule;
}

/** `@opentelemetry/api` when installed, otherwise undefined. Never throws. */
export function inboundOtelApi(): OtelApiModule | undefined {
  if (cached === undefined) {
    try {
      const api = loader();
      cached = typeof api?.trace?.getTracer === 'function' && typeof api.propagation?.extract === 'function' ? api : null;
    } catch {
      cached = null;
    }
  }
  return cached ?? undefined;
}

/**
 * Replaces the loader (a test's "API not installed"); nothing restores the real one.
 *
 * @internal
 */
export function setInboundOtelLoaderForTests(replacement?: () => OtelApiModule): void {
  loader = replacement ?? defaultLoader;
  cached = undefined;
}
