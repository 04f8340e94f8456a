// Custom layers: adding your own step to the mesh's request path, by role name.
//
// The mesh sends every request through two stacks of layers (outermost first):
//
//   service stack, once per logical service:   timeout → retry → hedge → breaker → limits → balance
//                                              (route timeout, retries, backup requests, circuit
//                                              breaker, connection-pool limits, pick an endpoint)
//   endpoint stack, once per endpoint:         telemetry → load → outlier → pool
//                                              (tracks load, counts failures, sends)
//
// This example inserts two layers of its own:
//
//   request-id     (service stack, before `timeout`, so outermost): gives each request
//                  an `x-request-id` header unless the caller set one. It runs once per
//                  request; a retried request keeps its id (retries pass below it).
//   request-count  (endpoint stack, after `load`): counts requests and response status
//                  codes per endpoint. It runs after the endpoint is picked, so it knows
//                  which one.
//
//   npx tsx --conditions=proxyless-source examples/custom-layer/main.ts
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Dispatcher } from 'undici';
import { createMesh, ForwardingHandler, hasHeader, layer, staticEndpoints, withHeader, type EndpointTarget, type ServiceTarget } from 'proxyless';

// --- Two backend replicas that write down what they received ----------------------

/** One request as a backend saw it. */
interface Seen {
  replica: string;
  path: string;
  requestId: string | undefined;
}
const seen: Seen[] = [];

/** Starts a replica on 127.0.0.1 (a free port); it answers 404 for /missing, else 200. */
async function startReplica(name: string): Promise<{ name: string; server: Server; port: number }> {
  const server = createServer((req, res) => {
    const requestId = req.headers['x-request-id'];
    seen.push({ replica: name, path: req.url ?? '', requestId: typeof requestId === 'string' ? requestId : undefined });
    res.statusCode = req.url === '/missing' ? 404 : 200;
    res.end(res.statusCode === 200 ? `hello from ${name}` : `${name}: not found`);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { name, server, port: (server.address() as AddressInfo).port };
}

// --- Layer 1: request-id, in the service stack ------------------------------------

/**
 * A service-stack layer. `layer(role, wrap)`: `wrap` is called once per service with the
 * next step (`next`) and the service (`service.name.host` is e.g. `reviews`); it returns
 * the function that handles each request: undici's `dispatch(opts, handler)`.
 */
const requestId = layer<ServiceTarget>('request-id', (next, service) => {
  console.log(`[request-id] built for service "${service.name.host}"`);
  return (opts, handler) => {
    if (hasHeader(opts.headers, 'x-request-id')) return next(opts, handler);
    // withHeader returns a copy (an object stays an object; arrays and iterables become
    // a flat array): never change the caller's objects.
    return next({ ...opts, headers: withHeader(opts.headers, 'x-request-id', randomUUID()) }, handler);
  };
});

// --- Layer 2: request-count, in the endpoint stack --------------------------------

/** Per endpoint (`address:port`): requests sent, and responses by status code. */
const counts = new Map<string, { requests: number; statuses: Map<number, number> }>();

/**
 * Sees each response of one endpoint. Handlers wrap handlers: subclass
 * `ForwardingHandler` (which passes every callback on) and override only the callbacks
 * you need, calling `super` so the response still reaches the caller.
 */
class StatusCounter extends ForwardingHandler {
  readonly #statuses: Map<number, number>;

  constructor(next: Dispatcher.DispatchHandler, statuses: Map<number, number>) {
    super(next);
    this.#statuses = statuses;
  }

  override onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#statuses.set(statusCode, (this.#statuses.get(statusCode) ?? 0) + 1);
    super.onResponseStart(controller, statusCode, headers, statusMessage);
  }
}

/** An endpoint-stack layer: `wrap` runs once per endpoint, on its first request. */
const requestCount = layer<EndpointTarget>('request-count', (next, endpoint) => {
  const count = { requests: 0, statuses: new Map<number, number>() };
  counts.set(endpoint.key, count);
  return (opts, handler) => {
    count.requests++;
    return next(opts, new StatusCounter(handler, count.statuses));
  };
});

// --- The mesh, with both layers inserted by role name -----------------------------

const replicas = await Promise.all([startReplica('replica-a'), startReplica('replica-b')]);

const mesh = createMesh({
  discovery: [staticEndpoints({ reviews: replicas.map((r) => `127.0.0.1:${r.port}`) })],
  // Round robin, so that both replicas show up in this short run.
  config: [
    {
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews' },
      spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
    },
  ],
  stacks: {
    service(stack) {
      stack.insertBefore('timeout', requestId);
      console.log(`service stack:  ${stack.roles().join(' → ')}`);
    },
    endpoint(stack) {
      stack.insertAfter('load', requestCount);
      console.log(`endpoint stack: ${stack.roles().join(' → ')}`);
    },
  },
});

try {
  // Requests name the logical service; the mesh picks a replica for each.
  for (const path of ['/reviews/1', '/reviews/2', '/reviews/3', '/missing']) {
    const res = await mesh.fetch(`http://reviews${path}`);
    console.log(`GET ${path.padEnd(11)} → ${res.status} ${await res.text()}`);
  }
  // A caller that sets its own request id keeps it: the layer only fills in a missing one.
  const res = await mesh.fetch('http://reviews/reviews/5', { headers: { 'x-request-id': 'chosen-by-the-caller' } });
  console.log(`GET /reviews/5  → ${res.status} ${await res.text()} (the caller set x-request-id)`);

  console.log('\nWhat the backends saw:');
  for (const s of seen) console.log(`  ${s.replica}  ${s.path.padEnd(11)} x-request-id: ${s.requestId ?? '(none)'}`);

  console.log('\nWhat the request-count layer counted:');
  for (const [key, count] of counts) {
    const replica = replicas.find((r) => key === `127.0.0.1:${r.port}`)?.name;
    const statuses = [...count.statuses].map(([status, n]) => `${status} ×${n}`).join(', ');
    console.log(`  ${key} (${replica})  requests: ${count.requests}  statuses: ${statuses}`);
  }
} finally {
  await mesh.close();
  for (const r of replicas) r.server.close();
}
