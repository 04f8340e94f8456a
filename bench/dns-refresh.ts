/**
 * DNS refresh under load: does re-resolving a large SRV set disturb the requests that
 * run meanwhile?
 *
 * A service of 1,000 endpoints comes from SRV records (`dns({ srv: true })`), served by
 * our own DNS server (the dns-packet server of the tests) in a child process: the set
 * is ~56 KB, so the UDP reply is truncated and the source asks again over TCP, decodes
 * 1,000 records, diffs them and updates the mesh. 1,000 node:http backends run in
 * another child process (bench/lib/backends.ts), so neither server's CPU counts as
 * client CPU. Closed-loop load at concurrency 32 goes through `mesh.dispatcher` (P2C
 * Peak EWMA, SRV weights 1..3).
 *
 * - refreshing: records with TTL 1 s, and every 400 ms the server moves a weight bump to
 *   the next 10 records (20 weights change), so nearly every refresh (one every 0.8-0.9 s) carries a change the
 *   source must find (decode, compare, diff) and the mesh must apply (its balancer
 *   rebuilt) while traffic runs. Membership stays the same: new endpoints would add
 *   connection set-up, which is the cost of churn under any discovery (measured by the
 *   endpoint churn tests), not of refreshing DNS.
 * - baseline: the same 1,000-endpoint set with TTL 3600 s: no refresh during the run.
 *
 * Why fair: both variants use the same source, server, backends, balancer and load, and
 * a fresh mesh per round with the same unmeasured warm-up (which opens the connections
 * to all endpoints) and a full GC before the measured run; rounds alternate the order
 * (ABBA). The machine is shared and noisy, so the target is checked on the median of
 * the per-round ratios (the two runs of a round are adjacent in time): p99 refreshing /
 * p99 baseline <= 1.2. The medians of each side are shown next to it. Informational:
 * refreshes per measured run, p50, throughput, event-loop delay p99.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createMesh } from 'proxyless';
import { dns } from '../src/discovery/dns/index.js';
import { startBackends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { assertNoErrors, runLoad, type LoadResult } from './lib/load.js';
import type { Log } from './lib/log.js';
import { fullGc } from './lib/gc.js';
import { childExecArgv } from './lib/node-args.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'dns-refresh';
const ENDPOINTS = 1000;
const CHANGED = 10;
const CONCURRENCY = 32;
const ROUNDS = 10;
const WARMUP_MS = scaled(1000, 300);
const MEASURE_MS = scaled(2000, 600);
const ROTATE_MS = 400;
const DNS_CHILD_FLAG = '--dns-server';
const STILL = 'still.svc.test';
const MOVING = 'moving.svc.test';

/** Messages between the benchmark and its DNS server child. */
type DnsCommand = { type: 'configure'; ports: number[] } | { type: 'close' };
type DnsReply = { type: 'ready'; port: number } | { type: 'configured' };

type VariantName = 'baseline' | 'refreshing';

interface Run {
  readonly load: LoadResult;
  /** Queries the source sent during the measured run (each refresh is one). */
  readonly refreshes: number;
  /** Event-loop delay p99 during the measured run, ms. */
  readonly loopDelayP99: number;
}

/** The DNS server child: answers SRV for both names, rotating the `moving` set. */
async function dnsServerChild(): Promise<void> {
  const { FakeDnsServer } = await import('../test/helpers/dns/fake-dns-server.js');
  const server = await FakeDnsServer.start();
  let timer: NodeJS.Timeout | undefined;
  const send = (message: DnsReply): void => void process.send?.(message);
  const srvSet = (ports: readonly number[], ttl: number, step: number) =>
    ports.map((port, i) => {
      // Weights 1..3; each step bumps the weights of a different 10 records.
      const bumped = Math.floor(i / CHANGED) % (ports.length / CHANGED) === step % (ports.length / CHANGED);
      return { type: 'SRV' as const, ttl, data: { target: 'h.svc.test', port, priority: 0, weight: 1 + ((i + (bumped ? 1 : 0)) % 3) } };
    });
  process.on('message', (message: DnsCommand) => {
    if (message.type === 'configure') {
      const ports = message.ports;
      server.set('h.svc.test', [{ type: 'A', ttl: 3600, data: '127.0.0.1' }]);
      server.set(`_http._tcp.${STILL}`, srvSet(ports, 3600, -1));
      let step = 0;
      const rotate = (): void => {
        server.set(`_http._tcp.${MOVING}`, srvSet(ports, 1, step));
        step++;
      };
      rotate();
      timer = setInterval(rotate, ROTATE_MS);
      send({ type: 'configured' });
    } else {
      if (timer) clearInterval(timer);
      void server.close().then(() => process.exit(0));
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: server.port });
}

function nextReply(child: ChildProcess, type: DnsReply['type']): Promise<DnsReply> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dns server child: no "${type}" in 15 s`)), 15_000);
    const onMessage = (message: DnsReply): void => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`dns server child exited (code ${code})`)));
  });
}

/** One round of one variant: a fresh mesh, warm-up, measured run. */
async function measure(variant: VariantName, dnsPort: number): Promise<Run> {
  const source = dns({ servers: [`127.0.0.1:${dnsPort}`], srv: true, family: 4 });
  const mesh = createMesh({ discovery: [source] });
  const url = `http://${variant === 'baseline' ? STILL : MOVING}/`;
  const send = async (): Promise<void> => {
    const res = await request(url, { dispatcher: mesh.dispatcher });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  };
  try {
    assertNoErrors(`${variant} warm-up`, await runLoad({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, send }));
    const endpoints = mesh.services()[0]?.endpoints.length ?? 0;
    if (endpoints !== ENDPOINTS) throw new Error(`${variant}: ${endpoints} endpoints after warm-up (expected ${ENDPOINTS})`);
    // Garbage of the previous run's mesh is collected here, not during this measurement.
    fullGc();
    const queriesBefore = source.state().queries;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const load = await runLoad({ concurrency: CONCURRENCY, durationMs: MEASURE_MS, send });
    loop.disable();
    assertNoErrors(variant, load);
    if (source.state().failures > 0) throw new Error(`${variant}: DNS failures: ${source.state().lastError?.message}`);
    return { load, refreshes: source.state().queries - queriesBefore, loopDelayP99: loop.percentile(99) / 1e6 };
  } finally {
    await mesh.close();
  }
}

/** Runs the DNS refresh benchmark; see the file comment. */
export async function dnsRefresh(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends(new Array<number>(ENDPOINTS).fill(0));
  const child = fork(fileURLToPath(import.meta.url), [DNS_CHILD_FLAG], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const runs: Record<VariantName, Run[]> = { baseline: [], refreshing: [] };
  try {
    const { port } = (await nextReply(child, 'ready')) as Extract<DnsReply, { type: 'ready' }>;
    const configured = nextReply(child, 'configured');
    child.send({ type: 'configure', ports: [...backends.ports] } satisfies DnsCommand);
    await configured;
    log(`${ENDPOINTS} backends and a DNS server (child processes); SRV sets of ${ENDPOINTS}; c=${CONCURRENCY}, ` +
      `${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured per run, ${ROUNDS} rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      const order: VariantName[] = round % 2 === 0 ? ['baseline', 'refreshing'] : ['refreshing', 'baseline'];
      for (const variant of order) {
        const run = await measure(variant, port);
        runs[variant].push(run);
        log(`round ${round + 1}/${ROUNDS} ${variant.padEnd(10)} ${formatNumber(run.load.throughput).padStart(6)} req/s  ` +
          `p50 ${(run.load.latency.p50 / 1000).toFixed(2)} ms  p99 ${(run.load.latency.p99 / 1000).toFixed(2)} ms  ` +
          `refreshes ${run.refreshes}  loop delay p99 ${run.loopDelayP99.toFixed(2)} ms`);
      }
    }
  } finally {
    if (child.connected) child.send({ type: 'close' } satisfies DnsCommand);
    const timer = setTimeout(() => child.kill(), 5000);
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    clearTimeout(timer);
    await backends.close();
  }
  const refreshes = median(runs.refreshing.map((r) => r.refreshes));
  if (refreshes < 2) throw new Error(`the refreshing runs refreshed only ${refreshes} times: nothing was measured`);
  const m = (variant: VariantName, pick: (r: Run) => number): number => median(runs[variant].map(pick));
  const row = (metric: string, unit: string, mesh: number, baseline: number, target?: BenchResult['target'], ratio?: number): BenchResult =>
    result({ benchmark: BENCHMARK, metric, unit, mesh, baseline, ...(target ? { target } : {}), ...(ratio !== undefined ? { ratio } : {}) });
  const pairedP99 = median(runs.refreshing.map((r, i) => r.load.latency.p99 / runs.baseline[i]!.load.latency.p99));
  const results = [
    row('p99 while refreshing a 1,000-endpoint SRV set over TCP, TTL 1 s, c=32 (ms; baseline: no refresh; ratio: median of per-round ratios)', 'ms',
      m('refreshing', (r) => r.load.latency.p99 / 1000), m('baseline', (r) => r.load.latency.p99 / 1000), { on: 'ratio', op: '<=', value: 1.2 }, pairedP99),
    row('p50, same (ms; baseline: no refresh)', 'ms', m('refreshing', (r) => r.load.latency.p50 / 1000), m('baseline', (r) => r.load.latency.p50 / 1000)),
    row('throughput, same (req/s; baseline: no refresh)', 'req/s', m('refreshing', (r) => r.load.throughput), m('baseline', (r) => r.load.throughput)),
    row('event-loop delay p99, same (ms; baseline: no refresh)', 'ms', m('refreshing', (r) => r.loopDelayP99), m('baseline', (r) => r.loopDelayP99)),
    row('refreshes per measured run (baseline: none expected)', 'count', refreshes, m('baseline', (r) => r.refreshes)),
  ];
  const notes = [
    `dns-refresh: ${ENDPOINTS} SRV endpoints (backends in a child process), our DNS server in another ` +
      `child answering over TCP after a truncated UDP reply; the refreshing set (TTL 1 s) changes ${2 * CHANGED} weights every ` +
      `${ROTATE_MS} ms; fresh mesh per run, ${WARMUP_MS} ms unmeasured warm-up, ${MEASURE_MS} ms measured, medians of ${ROUNDS} rounds (ABBA).`,
  ];
  return { results, notes };
}

if (process.argv[2] === DNS_CHILD_FLAG) void dnsServerChild();
else runIfMain(import.meta.url, BENCHMARK, dnsRefresh);
