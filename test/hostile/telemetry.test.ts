// Telemetry never breaks a call: malformed trace context from the caller (its headers,
// its active context, a trace state that throws), an exporter that throws, one that
// never answers, and a tracer provider that throws. Real SDK, real servers.
import { afterEach, describe, expect, it } from 'vitest';
import { context, propagation, trace, TraceFlags, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator } from '@opentelemetry/core';
import { SimpleSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { createMesh, staticEndpoints, TraceContextPropagator, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
  propagation.disable();
  context.disable();
});

/** A backend that answers with the trace headers it received (every value of each). */
async function echoTrace(): Promise<Backend> {
  const backend = await startBackend({
    id: 'api',
    handle: (req, res) => {
      const out: Record<string, string[]> = { traceparent: [], tracestate: [], baggage: [] };
      for (let i = 0; i < req.rawHeaders.length; i += 2) out[req.rawHeaders[i]!.toLowerCase()]?.push(req.rawHeaders[i + 1]!);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(out));
    },
  });
  servers.push(backend);
  return backend;
}

function setUp(exporter: SpanExporter): TracerProvider {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new TraceContextPropagator(), new W3CBaggagePropagator()] }));
  return new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
}

const collecting = (spans: ReadableSpan[]): SpanExporter => ({
  export(batch, done) {
    spans.push(...batch);
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
});

describe('hostile trace context and exporters', () => {
  it('malformed traceparent, tracestate and baggage set by the caller are replaced by one valid set', async () => {
    const api = await echoTrace();
    const spans: ReadableSpan[] = [];
    const tracerProvider = setUp(collecting(spans));
    const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], telemetry: { tracing: { tracerProvider } } });
    meshes.push(mesh);
    const res = await mesh.fetch('http://api/', { headers: { traceparent: '00-zzzz-not-a-trace-01', tracestate: '=,,,@@==', baggage: '=;;;%%%' } });
    const seen = (await res.json()) as Record<string, string[]>;
    expect(res.status).toBe(200);
    expect(seen.traceparent).toHaveLength(1);
    expect(seen.traceparent![0]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[13]$/);
    expect(seen.tracestate).toEqual([]);
    expect(seen.baggage).toEqual([]);
  });

  it('an invalid span context and a trace state that throws in the active context: the call still answers', async () => {
    const api = await echoTrace();
    const spans: ReadableSpan[] = [];
    const tracerProvider = setUp(collecting(spans));
    const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], telemetry: { tracing: { tracerProvider } } });
    meshes.push(mesh);
    const hostileState = { serialize: () => { throw new Error('hostile trace state'); }, get: () => { throw new Error('x'); }, set() { return this; }, unset() { return this; } };
    const contexts: Context[] = [
      trace.setSpanContext(context.active(), { traceId: 'not-hex', spanId: '??', traceFlags: 99 }),
      trace.setSpanContext(context.active(), { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: TraceFlags.SAMPLED, traceState: hostileState as never }),
    ];
    for (const ctx of contexts) {
      const status = await context.with(ctx, async () => {
        const res = await mesh.fetch('http://api/');
        await res.arrayBuffer();
        return res.status;
      });
      expect(status).toBe(200);
    }
    expect(spans.filter((s) => s.name === 'GET')).toHaveLength(2);
  });

  it('an exporter that throws, and one that never answers: every call answers', async () => {
    const api = await startBackend({ id: 'api' });
    servers.push(api);
    let thrown = 0;
    let hung = 0;
    const throwing: SpanExporter = { export() { thrown++; throw new Error('exporter down'); }, shutdown: () => Promise.resolve() };
    const hanging: SpanExporter = { export() { hung++; }, shutdown: () => Promise.resolve() };
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const tracerProvider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: throwing }), new SimpleSpanProcessor({ exporter: hanging })] });
    const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], telemetry: { tracing: { tracerProvider } } });
    meshes.push(mesh);
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await mesh.fetch('http://api/')).status));
    expect(statuses).toEqual(Array(20).fill(200));
    // Both exporters were given every span (a call span and a try span per call).
    expect(thrown).toBeGreaterThanOrEqual(40);
    expect(hung).toBeGreaterThanOrEqual(40);
  });

  it('a tracer provider whose tracer throws: calls answer, one warning says telemetry failed', async () => {
    const api = await startBackend({ id: 'api' });
    servers.push(api);
    const tracerProvider = { getTracer: () => ({ startSpan: () => { throw new Error('broken tracer'); }, startActiveSpan: () => { throw new Error('broken tracer'); } }) };
    const warnings: string[] = [];
    const onWarning = (w: Error & { code?: string }) => warnings.push(String(w.code));
    process.on('warning', onWarning);
    try {
      const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], telemetry: { tracing: { tracerProvider } } });
      meshes.push(mesh);
      for (let i = 0; i < 3; i++) expect((await mesh.fetch('http://api/')).status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w === 'PROXYLESS_W_TELEMETRY')).toHaveLength(1);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
