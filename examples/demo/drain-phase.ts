// The drain phase: three replicas of `orders`, real Fastify services with the mesh's
// server side, behind a mesh client under the demo's callers. First one request is
// traced: the caller's span and the replica's SERVER span join in one trace across the
// hop (the replica extracts the W3C traceparent; its handler sees it as
// request.mesh.trace). Then, halfway, one replica drains as on SIGTERM (mesh.drain()):
// readiness 503, its registration removed (here: from the client's static registry),
// after the drain delay it stops accepting, its requests in flight finish, its mesh closes
// last. The table shows each replica's share before and after, and that no request failed.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import Fastify from 'fastify';
import { createMesh, lifecycleOf, staticEndpoints, TraceContextPropagator, type Mesh, type StaticEndpointsSource } from 'proxyless';
import { meshPlugin } from '@proxyless/fastify';
import { request } from 'undici';
import { runLoad } from './load.js';
import { partFailed, waitSeconds, type PartOutcome, type PhaseContext } from './phase-parts.js';
import { count, painter, percent } from './table.js';

const SERVICE = 'orders';
/** The drain delay of the draining replica (Istio's terminationDrainDuration, shortened for the demo). */
const DRAIN_DELAY_MS = 300;

/** One orders replica: a Fastify service with its own mesh (its server side). */
interface OrdersReplica {
  readonly id: string;
  readonly address: string;
  readonly mesh: Mesh;
  readonly server: Server;
  accepted: number;
  answered: number;
}

/** What the phase measured. */
export interface DrainReport {
  readonly counts: { readonly state: 'done' | 'interrupted'; readonly requests: number; readonly failed: number };
  /** Per replica: requests served before and after the drain started. */
  readonly replicas: ReadonlyArray<{ readonly id: string; readonly before: number; readonly after: number }>;
  readonly drained: { readonly id: string; readonly accepted: number; readonly answered: number; readonly events: readonly string[] } | undefined;
  /** The traced request: caller span → SERVER span, or why not. */
  readonly trace: string;
}

/** Options of {@link runDrain}. */
export interface DrainPhaseOptions extends PhaseContext {
  readonly seconds: number;
}

/** Keeps only the spans of the traces it was told about (the demo traces one request). */
class WatchedTraces implements SpanProcessor {
  readonly watched = new Set<string>();
  readonly spans: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    if (this.watched.has(span.spanContext().traceId)) this.spans.push(span);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function startOrdersReplica(id: string): Promise<OrdersReplica> {
  const mesh = createMesh();
  const app = Fastify();
  await app.register(meshPlugin, { mesh });
  const replica: OrdersReplica = { id, address: '', mesh, server: app.server, accepted: 0, answered: 0 };
  app.get('/orders/:id', async (req, reply) => {
    replica.accepted++;
    await sleep(2 + Math.random() * 3);
    reply.raw.once('finish', () => replica.answered++);
    return reply.header('x-replica', id).header('x-caller-trace', req.mesh.trace?.traceId ?? '-').send(id);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return Object.assign(replica, { address: `127.0.0.1:${(app.server.address() as AddressInfo).port}` });
}

/**
 * One request in a client span through the mesh, which sends the trace on: its call span
 * (`mesh GET`) under the caller's span, a CLIENT span for the try, whose context goes on
 * the wire and is the replica's SERVER span's parent.
 */
async function tracedRequest(client: Mesh, processor: WatchedTraces): Promise<string> {
  const tracer = trace.getTracer('demo');
  const { traceId, replica } = await tracer.startActiveSpan('demo caller', async (span: Span) => {
    processor.watched.add(span.spanContext().traceId);
    const res = await request(`http://${SERVICE}/orders/1`, { dispatcher: client.dispatcher });
    await res.body.text();
    span.end();
    return { traceId: span.spanContext().traceId, replica: String(res.headers['x-replica']) };
  });
  // The replica's span ends as its response closes: wait for it (a few ticks at most).
  for (let i = 0; i < 100 && !processor.spans.some((s) => s.kind === 1); i++) await sleep(5);
  const caller = processor.spans.find((s) => s.name === 'demo caller');
  const server = processor.spans.find((s) => s.kind === 1);
  if (!caller || !server) return 'the trace did not join (no SERVER span seen)';
  const byId = (id: string | undefined) => processor.spans.find((s) => s.spanContext().spanId === id);
  const attempt = byId(server.parentSpanContext?.spanId);
  const call = byId(attempt?.parentSpanContext?.spanId);
  const joined = server.spanContext().traceId === traceId && attempt?.kind === 2 && call?.parentSpanContext?.spanId === caller.spanContext().spanId;
  return (
    `trace ${traceId.slice(0, 8)}…: "demo caller" ${caller.spanContext().spanId.slice(0, 8)}… → "${call?.name ?? '?'}" → CLIENT ` +
    `${attempt?.spanContext().spanId.slice(0, 8) ?? '?'}… → SERVER "${server.name}" at ${replica}, ` +
    `parent ${server.parentSpanContext?.spanId.slice(0, 8)}…${joined ? ': joined across the hop' : ': NOT joined'}`
  );
}

/**
 * Runs the phase: three replicas, a traced request, traffic for `seconds`, one replica
 * drained halfway. Prints its lines as it goes and returns the report.
 */
export async function runDrain(options: DrainPhaseOptions): Promise<PartOutcome<DrainReport>> {
  const { screen, style, interrupted } = options;
  const paint = painter(style.color);
  const replicas: OrdersReplica[] = [];
  let client: Mesh | undefined;
  const processor = new WatchedTraces();
  const provider = new TracerProvider({ spanProcessors: [processor] });
  // The OpenTelemetry SDK only for this phase, as an application registers it.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new TraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  try {
    for (const id of ['orders-1', 'orders-2', 'orders-3']) replicas.push(await startOrdersReplica(id));
    const registry: StaticEndpointsSource = staticEndpoints({ [SERVICE]: replicas.map((r) => r.address) });
    client = createMesh({
      discovery: [registry],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: SERVICE }, spec: { host: SERVICE, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }],
    });
    const victim = replicas[2]!;
    // The victim's registration: closing it removes the replica from the client's registry, as etcd's would.
    victim.mesh.addRegistration({ close: async () => registry.set(SERVICE, replicas.filter((r) => r !== victim).map((r) => r.address)) });
    screen.print([
      `▶ drain: 3 Fastify replicas of ${SERVICE} (@proxyless/fastify) behind the mesh, ${options.concurrency} callers for ${options.seconds} s; halfway ${victim.id} drains (mesh.drain(), delay ${DRAIN_DELAY_MS} ms)`,
    ]);
    const traced = await tracedRequest(client, processor);
    screen.print([`  ${traced}`]);

    const served = new Map<string, { before: number; after: number }>(replicas.map((r) => [r.id, { before: 0, after: 0 }]));
    let draining = false;
    let requests = 0;
    let failed = 0;
    const events: string[] = [];
    const stop = new AbortController();
    const onInterrupt = (): void => stop.abort();
    interrupted.addEventListener('abort', onInterrupt, { once: true });
    const load = runLoad({
      dispatcher: client.dispatcher,
      url: `http://${SERVICE}/orders/7`,
      concurrency: options.concurrency,
      distinctUsers: options.distinctUsers,
      signal: stop.signal,
      stats: {
        record(replicaId) {
          requests++;
          const row = replicaId === undefined ? undefined : served.get(replicaId);
          if (row) draining ? row.after++ : row.before++;
        },
        recordError() {
          requests++;
          failed++;
        },
      },
    });
    let drainDone: Promise<void> | undefined;
    if (await waitSeconds(options.seconds / 2, interrupted)) {
      draining = true;
      const started = performance.now();
      const at = (): string => `+${Math.round(performance.now() - started)} ms`;
      const lifecycle = lifecycleOf(victim.mesh);
      lifecycle.once('stopAccepting', () => events.push(`stopped accepting ${at()}`));
      lifecycle.once('drained', () => events.push(`drained, mesh closed ${at()}`));
      events.push('readiness 503, deregistered +0 ms');
      drainDone = victim.mesh.drain({ delay: DRAIN_DELAY_MS, grace: 5000 });
      await waitSeconds(options.seconds / 2, interrupted);
    }
    stop.abort();
    await load;
    await drainDone;
    interrupted.removeEventListener('abort', onInterrupt);
    const report: DrainReport = {
      counts: { state: interrupted.aborted ? 'interrupted' : 'done', requests, failed },
      replicas: replicas.map((r) => ({ id: r.id, ...served.get(r.id)! })),
      drained: draining ? { id: victim.id, accepted: victim.accepted, answered: victim.answered, events } : undefined,
      trace: traced,
    };
    const total = (key: 'before' | 'after'): number => report.replicas.reduce((n, r) => n + r[key], 0);
    const lines = [
      `${paint.bold('drain: a replica leaves')}  →  ${SERVICE}  ${paint.dim(`[${report.counts.state}]`)}`,
      `  ${count(requests)} requests · ${failed} failed`,
      paint.dim(`  ${'replica'.padEnd(11)}${'before the drain'.padEnd(18)}after`),
      ...report.replicas.map((r) => `  ${r.id.padEnd(11)}${percent(r.before / Math.max(1, total("before"))).padEnd(18)}${percent(r.after / Math.max(1, total("after")))}${r.id === victim.id ? '  ◀ drains halfway' : ''}`),
    ];
    if (report.drained) {
      lines.push(`  ${victim.id}: ${report.drained.events.join(', ')}`);
      lines.push(`  ${victim.id} accepted ${count(report.drained.accepted)} requests and answered ${count(report.drained.answered)}`);
    }
    screen.commit([...lines, '']);
    return { outcome: 'ran', report };
  } catch (error) {
    return partFailed(error, 'drain', options);
  } finally {
    await client?.close();
    await Promise.all(
      replicas.map(async (r) => {
        if (r.server.listening) {
          const closed = new Promise((resolve) => r.server.close(resolve));
          r.server.closeAllConnections();
          await closed;
        }
        await r.mesh.close();
      }),
    );
    trace.disable();
    propagation.disable();
    context.disable();
    await provider.shutdown();
  }
}

/** The phase's line in the summary. */
export function drainSummary(part: PartOutcome<DrainReport>): string[] {
  if (part.outcome !== 'ran') return part.outcome === 'skipped' ? [] : [`  drain: ${part.outcome === 'failed' ? `failed (${part.error})` : 'interrupted before its traffic started'}`];
  const r = part.report;
  const d = r.drained;
  return [
    `  drain${r.counts.state === 'interrupted' ? ' (interrupted)' : ''}: ${d ? `${d.id} left, answered ${count(d.answered)} of ${count(d.accepted)} accepted` : 'no replica drained yet'}, ${r.counts.failed} failed of ${count(r.counts.requests)} requests`,
  ];
}
