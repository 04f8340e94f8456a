// The mesh with @opentelemetry/instrumentation-undici registered too, as many Node teams
// run it: still exactly one CLIENT span per try and exactly one traceparent header per
// request on the wire, including requests that waited in a saturated pool's queue
// (undici creates those later, outside the try's own context). The instrumentation is
// shown to be live by a plain undici request, which it does trace.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { trace, SpanKind, type Tracer } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { startBackend, type Backend } from '../../helpers/backends.js';
import { registerTestSdk, type TestSdk } from '../../helpers/otel-sdk.js';

let sdk: TestSdk;
let tracer: Tracer;
let instrumentation: UndiciInstrumentation;
let backend: Backend;
const traceparents: string[][] = [];

beforeAll(async () => {
  sdk = registerTestSdk();
  tracer = trace.getTracer('test');
  instrumentation = new UndiciInstrumentation();
  instrumentation.setTracerProvider(trace.getTracerProvider());
  instrumentation.enable();
  backend = await startBackend({
    id: 'api',
    handle: (req, res) => {
      const tp: string[] = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'traceparent') tp.push(req.rawHeaders[i + 1]!);
      traceparents.push(tp);
      // Held a little so that concurrent requests queue behind the one connection.
      setImmediate(() => res.end('ok'));
    },
  });
});
afterAll(async () => {
  instrumentation.disable();
  await backend.close();
  await sdk.shutdown();
});

const clientSpans = (spans: ReadableSpan[], traceId: string) => spans.filter((s) => s.kind === SpanKind.CLIENT && s.spanContext().traceId === traceId);

describe('with @opentelemetry/instrumentation-undici registered', () => {
  it('the instrumentation is live: a plain undici request (no mesh) gets its CLIENT span and traceparent', async () => {
    traceparents.length = 0;
    const traceId = await tracer.startActiveSpan('plain', async (span) => {
      await (await request(`http://${backend.address}/`)).body.text();
      span.end();
      return span.spanContext().traceId;
    });
    const spans = clientSpans(await sdk.spans(), traceId);
    expect(spans.map((s) => s.instrumentationScope.name)).toEqual(['@opentelemetry/instrumentation-undici']);
    expect(traceparents).toEqual([[expect.stringContaining(spans[0]!.spanContext().spanId)]]);
  });

  it.each([
    ['mesh.fetch', 'fetch'],
    ['undici.request through mesh.dispatcher', 'request'],
  ])('%s: one CLIENT span (the mesh\'s) per try and one traceparent per request, 12 concurrent calls on one connection', async (_title, how) => {
    traceparents.length = 0;
    const mesh = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })], endpointPool: { connections: 1 } });
    try {
      const traceId = await tracer.startActiveSpan('caller', async (span) => {
        await Promise.all(
          Array.from({ length: 12 }, async () => {
            if (how === 'fetch') await (await mesh.fetch('http://api/')).text();
            else await (await request('http://api/', { dispatcher: mesh.dispatcher })).body.text();
          }),
        );
        span.end();
        return span.spanContext().traceId;
      });
      let spans: ReadableSpan[] = [];
      await vi.waitFor(async () => {
        spans = clientSpans(await sdk.spans(), traceId);
        expect(spans.length).toBeGreaterThanOrEqual(12);
      });
      expect(traceparents).toHaveLength(12);
      expect(traceparents.every((tp) => tp.length === 1)).toBe(true);
      // Every CLIENT span is the mesh's, one per request received, each the one sent on the wire.
      expect(new Set(spans.map((s) => s.instrumentationScope.name))).toEqual(new Set(['proxyless']));
      expect(spans).toHaveLength(12);
      expect(new Set(traceparents.map((tp) => tp[0]!.split('-')[2]))).toEqual(new Set(spans.map((s) => s.spanContext().spanId)));
    } finally {
      await mesh.close();
    }
  });
});
