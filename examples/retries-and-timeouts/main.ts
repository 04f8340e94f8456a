// Retries and timeouts from Istio YAML (mesh.yaml, next to this file):
//   ratings: three replicas, one answers 503, one hangs; `retries` and `perTryTimeout`
//            hide both, so every request succeeds.
//   reports: one replica that takes 3 s; the route `timeout` (500 ms) ends the call with
//            RouteTimeoutError, and `withDeadline` gives a call less time than that.
//
//   npx tsx --conditions=proxyless-source examples/retries-and-timeouts/main.ts
import { once } from 'node:events';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createMesh, staticEndpoints, withDeadline } from 'proxyless';

/** Tries each replica received. */
const tries: Record<string, number> = {};

/** A replica on 127.0.0.1 (a free port); `behave` answers (or not) each request. */
async function startReplica(name: string, behave: RequestListener): Promise<{ server: Server; address: string }> {
  tries[name] = 0;
  const server = createServer((req, res) => {
    tries[name]!++;
    behave(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const answer = (name: string): RequestListener => (_req, res) => res.end(`${name}: 4 stars`);
const failing = (name: string): RequestListener => (_req, res) => {
  res.statusCode = 503;
  res.end(`${name}: unavailable`);
};
/** Answers after `ms`, telling what time the caller gave it (x-envoy-expected-rq-timeout-ms). */
const slow = (name: string, ms: number): RequestListener => (req, res) => {
  const budget = req.headers['x-envoy-expected-rq-timeout-ms'];
  console.log(`  ${name} got a request with x-envoy-expected-rq-timeout-ms: ${budget}`);
  const timer = setTimeout(() => res.end(`${name}: done`), ms);
  res.on('close', () => clearTimeout(timer)); // the mesh gave up: stop working on it
};

const replicas = [
  await startReplica('ratings-ok', answer('ratings-ok')),
  await startReplica('ratings-503', failing('ratings-503')),
  await startReplica('ratings-hangs', slow('ratings-hangs', 3000)),
];
const reports = await startReplica('reports-slow', slow('reports-slow', 3000));

const mesh = createMesh({
  discovery: [staticEndpoints({ ratings: replicas.map((r) => r.address), reports: [reports.address] })],
  config: fileURLToPath(new URL('./mesh.yaml', import.meta.url)),
});

console.log('ratings: 6 requests, round robin over ratings-ok, ratings-503, ratings-hangs');
for (let i = 1; i <= 6; i++) {
  const started = performance.now();
  const res = await mesh.fetch(`http://ratings/ratings/${i}`);
  console.log(`  request ${i}: ${res.status} "${await res.text()}" in ${Math.round(performance.now() - started)} ms`);
}
console.log(`  tries per replica: ${Object.entries(tries).filter(([n]) => n.startsWith('ratings')).map(([n, c]) => `${n} ${c}`).join(', ')}`);

/** The mesh's error behind fetch's `TypeError: fetch failed`. */
function meshError(error: unknown): { name: string; code?: string; statusCode?: number; message: string } {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return cause as { name: string; code?: string; statusCode?: number; message: string };
}

console.log('reports: the route timeout (500 ms) against a replica that takes 3 s');
try {
  await mesh.fetch('http://reports/monthly');
} catch (error) {
  const e = meshError(error);
  console.log(`  ${e.name} ${e.code} statusCode=${e.statusCode}: ${e.message}`);
}

console.log('reports: inside withDeadline(200, ...): the call gets 200 ms at most');
try {
  await withDeadline(200, () => mesh.fetch('http://reports/weekly'));
} catch (error) {
  const e = meshError(error);
  console.log(`  ${e.name} ${e.code}: ${e.message}`);
}

await mesh.close();
for (const r of [...replicas, reports]) r.server.close();
