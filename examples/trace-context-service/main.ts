// The "service under test" of the W3C Trace Context test suite (w3c/trace-context,
// test/test.py), built on @proxyless/fastify: POST /test carries a JSON list of
// { url, arguments }; for each item, in order, the service POSTs `arguments` (as JSON) to
// `url` through the mesh, carrying the trace context, then answers 200.
//
//   PORT=5000 npm run example:trace-context      # then run the suite (README.md here)
//
// The trace context comes in through the mesh plugin (a SERVER span, child of the
// harness's), and goes out with each callback. Environment: PORT (5000; 0 picks a free
// port), HOST (127.0.0.1).
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import Fastify from 'fastify';
import { createMesh, TraceContextPropagator } from 'proxyless';
import { meshPlugin } from '@proxyless/fastify';

// The SDK as an application registers it, with proxyless's W3C Level 2 propagator (the
// stock one of @opentelemetry/core fails the suite's Level 2 cases: the random flag,
// several tracestate rules).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new TraceContextPropagator());
trace.setGlobalTracerProvider(new TracerProvider());
const tracer = trace.getTracer('trace-context-service');

const mesh = createMesh({ outboundTrafficPolicy: { mode: 'ALLOW_ANY' } }); // the harness is not a mesh service
const app = Fastify({ bodyLimit: 1024 * 1024 });
await app.register(meshPlugin, { mesh, drain: { delay: 0, grace: 5000, signals: ['SIGTERM', 'SIGINT'] } });

interface Step {
  url: string;
  arguments: unknown;
}

/** The harness's instructions, checked: at most 100 steps, each an http(s) URL. */
function steps(body: unknown): Step[] | string {
  if (!Array.isArray(body) || body.length > 100) return 'expected a JSON array of at most 100 { url, arguments }';
  for (const step of body) {
    const url = (step as Partial<Step> | null)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return `expected each url to be an http(s) URL, got ${JSON.stringify(url)}`;
  }
  return body as Step[];
}

app.post('/test', async (request, reply) => {
  const list = steps(request.body);
  if (typeof list === 'string') return reply.code(400).send(list);
  for (const step of list) {
    // The request's context is active here (the plugin's SERVER span). Each callback gets
    // a CLIENT span of its own, child of it, whose context goes on the wire, until the
    // mesh's client side makes those spans and injects by itself (the telemetry wiring).
    await tracer.startActiveSpan('POST', { kind: SpanKind.CLIENT }, async (span) => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      propagation.inject(context.active(), headers);
      try {
        const res = await mesh.fetch(step.url, { method: 'POST', headers, body: JSON.stringify(step.arguments ?? []) });
        await res.arrayBuffer();
      } finally {
        span.end();
      }
    });
  }
  return reply.code(200).send('');
});

const address = await app.listen({ port: Number(process.env.PORT ?? 5000), host: process.env.HOST ?? '127.0.0.1' });
console.log(`trace-context service on ${address}/test (propagator: proxyless TraceContextPropagator, W3C Level 2)`);
