/**
 * mTLS through the mesh, both ways, against the same work without it.
 *
 * Certificates: P-256 SVIDs from a dev CA made at start (client
 * `spiffe://cluster.local/ns/default/sa/client`, servers `.../sa/server`). Every server
 * runs in a child process (`lib/mtls-host.ts`), so its CPU is another core and this
 * process measures only client work (outbound) or only generates load (inbound).
 *
 * Outbound (client side), against one node:https server requiring client certificates:
 * - baseline: undici `Agent` with the client SVID's certificate, key and roots (Node's TLS
 *   verifies the chain; no identity check: Node's checkServerIdentity cannot read URI SANs);
 * - mesh: `mesh.dispatcher` to the logical service `svc`, whose endpoint is that server,
 *   ISTIO_MUTUAL by DestinationRule: the same certificates from the mesh's identity, plus
 *   the SPIFFE check of the server (once per connection) and everything the mesh does.
 * Keep-alive both: throughput at c=32 in ABBA rounds, target ratio >= 0.9; p50 at c=1 in
 * one run alternating request by request, target: added p50 <= 25 µs.
 *
 * Inbound (server side), undici with the client SVID as load generator (c=32, keep-alive):
 * - baseline: bare Fastify 5 over HTTPS with the same certificates, client certificate required;
 * - mesh: the same app served by `mesh.createServer` (STRICT, SPIFFE check of each client)
 *   with `meshPlugin` (telemetry on, no SDK registered) and 20 AuthorizationPolicies of
 *   mixed kinds evaluated per request. Target ratio >= 0.8.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createMesh, devIdentity, staticEndpoints } from 'proxyless';
import { createDevCa, writeDevCa, type X509Svid } from 'proxyless/tls';
import { alternateRuns, pairedThroughputRatios, type Variant } from './lib/alternate.js';
import { runIfMain } from './lib/entry.js';
import { runAlternating } from './lib/load.js';
import type { Log } from './lib/log.js';
import { childExecArgv } from './lib/node-args.js';
import { result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'mtls';
const CONCURRENCY = 32;
const ROUNDS = 6;
const RUN_MS = scaled(1500, 200);
const WARMUP_MS = scaled(1500, 200);
const LATENCY_MS = scaled(4000, 300);
const HOST = fileURLToPath(new URL('./lib/mtls-host.ts', import.meta.url));

interface Hosted {
  readonly port: number;
  close(): Promise<void>;
}

function host(kind: string, caDir: string): Promise<Hosted> {
  const child: ChildProcess = fork(HOST, [JSON.stringify({ kind, caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/server' })], { execArgv: childExecArgv(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${kind} host exited with ${code}`)));
    child.once('message', (message: { port: number }) =>
      resolve({
        port: message.port,
        close: () =>
          new Promise<void>((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.send({ type: 'close' });
          }),
      }),
    );
  });
}

function clientTls(svid: X509Svid): { cert: string; key: string; ca: string; checkServerIdentity: () => undefined } {
  return { cert: svid.certChainPem(), key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, ca: svid.rootsPem(), checkServerIdentity: () => undefined };
}

function sender(name: string, url: string, dispatcher: Agent | ReturnType<typeof createMesh>['dispatcher']): Variant {
  return {
    name,
    send: async () => {
      const res = await request(url, { dispatcher });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${name}: status ${res.statusCode}`);
    },
  };
}

/** Runs the benchmark (see the file comment). */
export async function mtls(log: Log): Promise<BenchmarkOutput> {
  const caDir = mkdtempSync(join(tmpdir(), 'proxyless-bench-mtls-'));
  writeDevCa(caDir, createDevCa({ trustDomain: 'cluster.local' }));
  const identity = devIdentity({ caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/client', ttl: '1h' });
  const svid = await identity.ready();
  const results: BenchResult[] = [];
  const notes: string[] = [];
  const hosts: Hosted[] = [];
  const agents: Agent[] = [];
  try {
    // Outbound.
    const https = await host('node-https', caDir);
    hosts.push(https);
    const outboundMesh = createMesh({
      identity: devIdentity({ caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/client', ttl: '1h' }),
      discovery: [staticEndpoints({ svc: [`127.0.0.1:${https.port}`] })],
      endpointPool: { connections: CONCURRENCY },
      config: [`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc, namespace: default }
spec: { host: svc, trafficPolicy: { tls: { mode: ISTIO_MUTUAL, subjectAltNames: ["spiffe://cluster.local/ns/default/sa/server"] } } }
`],
    });
    await outboundMesh.identityReady();
    const agent = new Agent({ connections: CONCURRENCY, connect: clientTls(svid) });
    agents.push(agent);
    const raw = sender('undici-tls', `https://127.0.0.1:${https.port}/`, agent);
    const meshed = sender('mesh-mtls', 'http://svc/', outboundMesh.dispatcher);
    try {
      log(`outbound: node:https mTLS server in a child process; ${ROUNDS} rounds of ${RUN_MS} ms per variant at c=${CONCURRENCY}`);
      const runs = await alternateRuns(log, `outbound c=${CONCURRENCY}`, raw, meshed, { concurrency: CONCURRENCY, durationMs: RUN_MS, warmupMs: WARMUP_MS, rounds: ROUNDS });
      log(`outbound per-round mesh/raw: ${pairedThroughputRatios(runs).map((r) => r.toFixed(3)).join(' ')}`);
      results.push(
        result({
          benchmark: BENCHMARK,
          metric: `outbound mTLS keep-alive throughput, c=${CONCURRENCY} (req/s; baseline: undici Agent over TLS, same certificates)`,
          unit: 'req/s',
          mesh: median(runs.mesh.map((r) => r.throughput)),
          baseline: median(runs.baseline.map((r) => r.throughput)),
          target: { on: 'ratio', op: '>=', value: 0.9 },
        }),
      );
      await runAlternating({ durationMs: WARMUP_MS / 2, sends: [raw.send, meshed.send] });
      const [base, withMesh] = await runAlternating({ durationMs: LATENCY_MS, sends: [raw.send, meshed.send] });
      log(`outbound c=1 raw p50 ${base.latency.p50.toFixed(1)} µs, mesh p50 ${withMesh.latency.p50.toFixed(1)} µs`);
      results.push(
        result({
          benchmark: BENCHMARK,
          metric: 'outbound mTLS keep-alive p50 latency, c=1 (µs; baseline: undici Agent over TLS)',
          unit: 'µs',
          mesh: withMesh.latency.p50,
          baseline: base.latency.p50,
          target: { on: 'difference', op: '<=', value: 25, unit: 'µs' },
        }),
      );
    } finally {
      await outboundMesh.close();
    }

    // Inbound.
    const bare = await host('fastify-bare', caDir);
    hosts.push(bare);
    const meshServer = await host('fastify-mesh', caDir);
    hosts.push(meshServer);
    const loadAgent = new Agent({ connections: CONCURRENCY, connect: clientTls(svid) });
    agents.push(loadAgent);
    log(`inbound: both Fastify servers in child processes; ${ROUNDS} rounds of ${RUN_MS} ms per variant at c=${CONCURRENCY}`);
    const runs = await alternateRuns(
      log,
      `inbound c=${CONCURRENCY}`,
      sender('fastify-https', `https://127.0.0.1:${bare.port}/hello/world`, loadAgent),
      sender('mesh-server', `https://127.0.0.1:${meshServer.port}/hello/world`, loadAgent),
      { concurrency: CONCURRENCY, durationMs: RUN_MS, warmupMs: WARMUP_MS, rounds: ROUNDS },
    );
    log(`inbound per-round mesh/bare: ${pairedThroughputRatios(runs).map((r) => r.toFixed(3)).join(' ')}`);
    // The same comparison with the server alone, and a bare-vs-bare run: how much of the
    // difference is the server, and how large the machine's noise is in this run.
    const serverOnly = await host('fastify-mesh-server-only', caDir);
    hosts.push(serverOnly);
    const bareAgain = await host('fastify-bare', caDir);
    hosts.push(bareAgain);
    const bareSend = sender('fastify-https', `https://127.0.0.1:${bare.port}/hello/world`, loadAgent);
    const options = { concurrency: CONCURRENCY, durationMs: RUN_MS, warmupMs: WARMUP_MS, rounds: ROUNDS };
    const serverRuns = await alternateRuns(log, 'inbound server only', bareSend, sender('mesh-server-only', `https://127.0.0.1:${serverOnly.port}/hello/world`, loadAgent), options);
    const noiseRuns = await alternateRuns(log, 'inbound A/A', bareSend, sender('fastify-https-2', `https://127.0.0.1:${bareAgain.port}/hello/world`, loadAgent), options);
    log(`A/A per-round ratios (noise): ${pairedThroughputRatios(noiseRuns).map((r) => r.toFixed(3)).join(' ')}`);
    results.push(
      result({
        benchmark: BENCHMARK,
        metric: `inbound: mesh.createServer STRICT + 20 AuthorizationPolicies + telemetry, Fastify, c=${CONCURRENCY} (req/s; baseline: bare Fastify over HTTPS, client certificate required)`,
        unit: 'req/s',
        mesh: median(runs.mesh.map((r) => r.throughput)),
        baseline: median(runs.baseline.map((r) => r.throughput)),
        target: { on: 'ratio', op: '>=', value: 0.8 },
      }),
      result({
        benchmark: BENCHMARK,
        metric: `inbound: mesh.createServer STRICT alone (no plugin, no policies), Fastify, c=${CONCURRENCY} (req/s; baseline: bare Fastify over HTTPS)`,
        unit: 'req/s',
        mesh: median(serverRuns.mesh.map((r) => r.throughput)),
        baseline: median(serverRuns.baseline.map((r) => r.throughput)),
      }),
      result({
        benchmark: BENCHMARK,
        metric: `noise check: bare Fastify over HTTPS against another one, c=${CONCURRENCY} (req/s; 1.0 on a quiet machine)`,
        unit: 'req/s',
        mesh: median(noiseRuns.mesh.map((r) => r.throughput)),
        baseline: median(noiseRuns.baseline.map((r) => r.throughput)),
      }),
    );
    notes.push(
      'mtls: servers in child processes; P-256 SVIDs from a dev CA; keep-alive on both sides, so handshakes (and the SPIFFE checks, once per connection) are amortised; the handshake itself is measured by tls-handshake.',
      'mtls inbound: telemetry is on with no OpenTelemetry SDK registered (the API no-op path), as inbound-overhead measures it; the 20 policies are 19 DENY (path, header, namespace) and one ALLOW by principal that the client matches.',
    );
  } finally {
    await identity.close();
    await Promise.all(agents.map((a) => a.close()));
    await Promise.all(hosts.map((h) => h.close()));
    rmSync(caDir, { recursive: true, force: true });
  }
  return { results, notes };
}

runIfMain(import.meta.url, BENCHMARK, mtls);
