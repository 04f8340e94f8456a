// The drain phase: three replicas of `orders`, real Fastify services with the mesh's
// server side (@proxyless/fastify), behind a mesh client under the demo's callers; each
// asks `inventory`, an Express service (@proxyless/express), through its own mesh. First
// one request is traced and its spans printed as a tree: the caller's span, the orders
// replica's SERVER span as its child, inventory's SERVER span as that one's child (each
// replica extracts the W3C traceparent; a handler sees it as request.mesh.trace, and runs
// inside its SERVER span's context). The orders → inventory hop is mTLS: a development CA
// made in a temp directory issues each workload its SPIFFE identity (devIdentity),
// inventory's port is STRICT (PeerAuthentication, mesh.createServer), the orders meshes
// originate mTLS (DestinationRule ISTIO_MUTUAL), and inventory reports the caller's
// principal it verified. Then, halfway, one replica drains as on SIGTERM (mesh.drain()):
// readiness 503, its registration removed (here: from the client's static registry),
// after the drain delay it stops accepting, its requests in flight finish, its mesh closes
// last. The table shows each replica's share before and after, and that no request failed.
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import express from 'express';
import Fastify from 'fastify';
import { createMesh, devIdentity, staticEndpoints, TraceContextPropagator, type Mesh, type StaticEndpointsSource } from 'proxyless';
import { lifecycleOf } from 'proxyless/inbound';
import { createDevCa, writeDevCa } from 'proxyless/tls';
import { meshMiddleware } from '@proxyless/express';
import { meshPlugin } from '@proxyless/fastify';
import { request } from 'undici';
import { traceTree, WatchedTraces } from './trace-tree.js';
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
  /** The traced request: its span tree and whether it joined across both hops. */
  readonly trace: readonly string[];
}

/** Options of {@link runDrain}. */
export interface DrainPhaseOptions extends PhaseContext {
  readonly seconds: number;
}

/** The inventory service: one Express replica with the mesh's server side. */
interface InventoryReplica {
  readonly address: string;
  readonly mesh: Mesh;
  readonly server: Server;
  /** The callers' principals inventory verified (mTLS), or 'plaintext'. */
  readonly callers: Set<string>;
}

/** A development CA in a temp directory: each workload's identity is issued from it. */
function devCa(): { dir: string; identity: (serviceAccount: string) => ReturnType<typeof devIdentity> } {
  const dir = mkdtempSync(join(tmpdir(), 'proxyless-demo-ca-'));
  writeDevCa(dir, createDevCa({ trustDomain: 'cluster.local' }));
  return { dir, identity: (sa) => devIdentity({ caDir: dir, spiffeId: `spiffe://cluster.local/ns/default/sa/${sa}`, ttl: '1h' }) };
}

async function startInventory(ca: ReturnType<typeof devCa>): Promise<InventoryReplica> {
  // Its port accepts mTLS only (STRICT), with the SVID the dev CA issued it.
  const mesh = createMesh({
    identity: ca.identity('inventory'),
    config: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name: 'default', namespace: 'default' }, spec: { mtls: { mode: 'STRICT' } } }],
  });
  await mesh.identityReady();
  const callers = new Set<string>();
  const app = express();
  app.use(meshMiddleware(mesh));
  app.get('/items/:id', (req, res) => {
    trace.getActiveSpan()?.setAttribute('demo.replica', 'inventory'); // the mesh's SERVER span: the handler runs in its context
    callers.add(req.mesh.peer?.principal ?? 'plaintext');
    res.json({ id: req.params.id, inStock: 3, remainingMs: req.mesh.remainingMs ?? null });
  });
  // mesh.createServer: the port's TLS per PeerAuthentication; meshMiddleware runs the inbound stack (and knows Express's routes).
  const server = mesh.createServer(app, { inbound: false }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, mesh, server, callers };
}

async function startOrdersReplica(id: string, inventory: string, ca: ReturnType<typeof devCa>): Promise<OrdersReplica> {
  // Each replica's own mesh: its server side, and its calls to inventory (mTLS with its own SVID).
  const mesh = createMesh({
    identity: ca.identity('orders'),
    discovery: [staticEndpoints({ inventory: [inventory] })],
    config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'inventory' }, spec: { host: 'inventory', trafficPolicy: { tls: { mode: 'ISTIO_MUTUAL' } } } }],
  });
  await mesh.identityReady();
  const app = Fastify();
  await app.register(meshPlugin, { mesh });
  const replica: OrdersReplica = { id, address: '', mesh, server: app.server, accepted: 0, answered: 0 };
  app.get('/orders/:id', async (req, reply) => {
    replica.accepted++;
    trace.getActiveSpan()?.setAttribute('demo.replica', id);
    // A call out while handling the request: the caller's deadline and trace go with it.
    const stock = await request('http://inventory/items/7', { dispatcher: mesh.dispatcher });
    await stock.body.text();
    await sleep(2 + Math.random() * 3);
    reply.raw.once('finish', () => replica.answered++);
    return reply.header('x-replica', id).header('x-caller-trace', req.mesh.trace?.traceId ?? '-').send(id);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return Object.assign(replica, { address: `127.0.0.1:${(app.server.address() as AddressInfo).port}` });
}

/**
 * One request in a caller span; its spans printed as a tree, and whether they joined
 * across both hops. The meshes send the trace on by themselves: at each hop a call span
 * (`mesh GET`), a CLIENT span for the try (its context goes on the wire), then the
 * replica's SERVER span.
 */
async function tracedRequest(client: Mesh, processor: WatchedTraces): Promise<string[]> {
  const tracer = trace.getTracer('demo');
  const traceId = await tracer.startActiveSpan('demo caller', async (span: Span) => {
    processor.watched.add(span.spanContext().traceId);
    const res = await request(`http://${SERVICE}/orders/1`, { dispatcher: client.dispatcher });
    await res.body.text();
    span.end();
    return span.spanContext().traceId;
  });
  // The caller's span, then per hop a call span, a CLIENT span and a SERVER span.
  const tree = traceTree(await processor.of(traceId, 7));
  const verdict =
    tree.joined === tree.spans - 1 && tree.depth >= 7
      ? `joined across both hops: ${tree.spans} spans, one root, each other span the child of the one above it`
      : `NOT joined: ${tree.joined} of ${tree.spans - 1} spans found their parent, depth ${tree.depth}`;
  return [`trace ${traceId.slice(0, 8)}… (caller → orders → inventory):`, ...tree.lines.map((l) => `  ${l}`), verdict];
}

/** The client mesh's admin endpoint (closed with the mesh): its dashboard URL, and what its /clusters says of orders right now. */
async function adminLine(client: Mesh): Promise<string> {
  const admin = await client.admin(); // 127.0.0.1, a free port
  const res = await request(`${admin.url}/clusters`);
  const { clusters } = (await res.body.json()) as { clusters: Array<{ key: string; endpoints: unknown[] }> };
  const orders = clusters.find((c) => c.key.includes(SERVICE));
  return `admin: dashboard at ${admin.dashboardUrl} while the phase runs (mesh.admin()); /clusters: ${orders?.key ?? 'no orders cluster'} with ${orders?.endpoints.length ?? 0} endpoints`;
}

/**
 * Runs the phase: three replicas, a traced request, traffic for `seconds`, one replica
 * drained halfway. Prints its lines as it goes and returns the report.
 */
export async function runDrain(options: DrainPhaseOptions): Promise<PartOutcome<DrainReport>> {
  const { screen, style, interrupted } = options;
  const paint = painter(style.color);
  const replicas: OrdersReplica[] = [];
  let inventory: InventoryReplica | undefined;
  let ca: ReturnType<typeof devCa> | undefined;
  let client: Mesh | undefined;
  const processor = new WatchedTraces();
  const provider = new TracerProvider({ spanProcessors: [processor] });
  // The OpenTelemetry SDK only for this phase, as an application registers it.
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new TraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  try {
    ca = devCa();
    inventory = await startInventory(ca);
    for (const id of ['orders-1', 'orders-2', 'orders-3']) replicas.push(await startOrdersReplica(id, inventory.address, ca));
    const registry: StaticEndpointsSource = staticEndpoints({ [SERVICE]: replicas.map((r) => r.address) });
    client = createMesh({
      discovery: [registry],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: SERVICE }, spec: { host: SERVICE, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }],
    });
    const victim = replicas[2]!;
    // The victim's registration: closing it removes the replica from the client's registry, as etcd's would.
    victim.mesh.addRegistration({ close: async () => registry.set(SERVICE, replicas.filter((r) => r !== victim).map((r) => r.address)) });
    screen.print([
      `▶ drain: 3 Fastify replicas of ${SERVICE} (@proxyless/fastify), each calling inventory (Express, @proxyless/express) through its mesh; ${options.concurrency} callers for ${options.seconds} s; halfway ${victim.id} drains (mesh.drain(), delay ${DRAIN_DELAY_MS} ms)`,
    ]);
    const traced = await tracedRequest(client, processor);
    screen.print(traced.map((line) => `  ${line}`));
    screen.print([`  orders → inventory over mTLS (STRICT port, SVIDs from a dev CA): inventory verified ${[...inventory.callers].join(', ')}`]);
    screen.print([`  ${await adminLine(client)}`]);

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
    if (inventory !== undefined) {
      const closed = new Promise((resolve) => inventory!.server.close(resolve));
      inventory.server.closeAllConnections();
      await closed;
      await inventory.mesh.close();
    }
    if (ca !== undefined) rmSync(ca.dir, { recursive: true, force: true });
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
