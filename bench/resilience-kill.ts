/**
 * Outlier detection when a backend dies mid-run: success rate and time to ejection.
 *
 * Four node:http backends run in a child process (the resilience backend host below);
 * 32 closed-loop workers send GETs through the mesh with default settings (P2C Peak EWMA,
 * Istio's default retries: 2 on connect-failure, refused-stream, reset) plus a
 * DestinationRule `outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 5,
 * interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 50 }`. After an unmeasured
 * warm-up, each run measures for a few seconds; in the "kill" run one backend's server is
 * closed and its sockets destroyed (in-flight requests see a reset, new connections are
 * refused) 1.5 s into the measured phase. Reported:
 * - the success rate (a request succeeds when it gets a 200 from a live backend) of the
 *   kill runs, against the same runs without the kill: target >= 99.9 %;
 * - the time from the kill (the moment the command is sent to the host, so IPC time
 *   counts against the mesh) until `mesh.services()` shows the dead endpoint as not
 *   `available`, polled every 10 ms; the worst of the kill runs, against the detection
 *   interval (1 s): target ratio <= 1 (within one interval). A run where it is never
 *   ejected reports NaN (a miss).
 * Why fair: the baseline is the same mesh, config, backends, load, polling and duration,
 * measured in the same process, in ABBA order (no-kill, kill, kill, no-kill), each run with
 * a fresh mesh and fresh backends; the only difference is the kill. Rates are summed over
 * rounds (not medians), so every request counts.
 *
 * This file also holds the programmable backend host the three resilience benchmarks
 * share (`startResilienceBackends`): per-backend delay, status, random slow answers,
 * request counting and killing one server. It runs when this file is forked with
 * {@link HOST_FLAG}; `bench/lib/backend-host.ts` has no status, counting or kill.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { runIfMain } from './lib/entry.js';
import { runLoad, type LoadResult } from './lib/load.js';
import type { Log } from './lib/log.js';
import { childExecArgv } from './lib/node-args.js';
import { formatNumber, result, type BenchmarkOutput, type BenchResult } from './lib/report.js';
import { scaled } from './lib/time-factor.js';

// ---------------------------------------------------------------------------------------
// The resilience backend host (child process side and parent side).
// ---------------------------------------------------------------------------------------

/** The argument that makes this file run as the backend host. */
export const HOST_FLAG = '--resilience-backend-host';

/** How one backend answers. */
export interface BackendBehaviour {
  /** Answer after this many ms (0 = at once). */
  readonly delayMs: number;
  /** Response status. */
  readonly status: number;
  /** Share (0..1) of requests answered `slowExtraMs` later, chosen at random per request. */
  readonly slowShare: number;
  /** Extra delay of a slow answer, in ms. */
  readonly slowExtraMs: number;
}

const DEFAULT_BEHAVIOUR: BackendBehaviour = { delayMs: 0, status: 200, slowShare: 0, slowExtraMs: 0 };

type HostCommand =
  | { type: 'configure'; behaviours: BackendBehaviour[] }
  | { type: 'counts' }
  | { type: 'kill'; index: number }
  | { type: 'close' };
type HostReply =
  | { type: 'ready'; ports: number[] }
  | { type: 'ack' }
  | { type: 'counts'; requests: number[]; slow: number[] };

/** Request counts since the host started, per backend. */
export interface BackendCounts {
  /** Requests that arrived (counted on arrival, before answering). */
  readonly requests: number[];
  /** Of those, the ones picked to answer slowly. */
  readonly slow: number[];
}

/** Backends in a child process, programmable per backend. */
export interface ResilienceBackends {
  readonly ports: readonly number[];
  /** `127.0.0.1:<port>` per backend. */
  readonly addresses: readonly string[];
  /** Sets every backend's behaviour (one entry per backend; missing fields keep their defaults). */
  configure(behaviours: readonly Partial<BackendBehaviour>[]): Promise<void>;
  /** Requests counted so far. */
  counts(): Promise<BackendCounts>;
  /** Closes backend `index`'s server and destroys its sockets; resolves once done. */
  kill(index: number): Promise<void>;
  /** Stops the child. */
  close(): Promise<void>;
}

async function hostMain(): Promise<void> {
  const behaviours: BackendBehaviour[] = (JSON.parse(process.argv[3] ?? '[{}]') as Partial<BackendBehaviour>[]).map((b) => ({
    ...DEFAULT_BEHAVIOUR,
    ...b,
  }));
  const requests = new Array<number>(behaviours.length).fill(0);
  const slow = new Array<number>(behaviours.length).fill(0);
  const servers: Server[] = [];
  const sockets: Array<Set<Socket>> = [];
  const send = (message: HostReply): void => void process.send?.(message);
  for (let index = 0; index < behaviours.length; index++) {
    const body = String(index);
    const own = new Set<Socket>();
    const server = createServer((req, res) => {
      requests[index]!++;
      req.resume();
      const b = behaviours[index]!;
      let delay = b.delayMs;
      if (b.slowShare > 0 && Math.random() < b.slowShare) {
        slow[index]!++;
        delay += b.slowExtraMs;
      }
      const answer = (): void => {
        res.statusCode = b.status;
        res.end(body);
      };
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
    server.keepAliveTimeout = 60_000;
    server.on('connection', (socket) => {
      own.add(socket);
      socket.on('close', () => own.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    sockets.push(own);
  }
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  const closeAll = (): void => {
    for (const server of servers) server.close();
    for (const own of sockets) for (const socket of own) socket.destroy();
    process.exit(0);
  };
  process.on('message', (message: HostCommand) => {
    if (message.type === 'configure') {
      message.behaviours.forEach((b, i) => (behaviours[i] = { ...DEFAULT_BEHAVIOUR, ...b }));
      send({ type: 'ack' });
    } else if (message.type === 'counts') {
      send({ type: 'counts', requests, slow });
    } else if (message.type === 'kill') {
      // Stop listening (new connections are refused) and drop every open connection
      // (requests in flight see a reset), as a crashed process would.
      servers[message.index]!.close();
      for (const socket of sockets[message.index]!) socket.destroy();
      send({ type: 'ack' });
    } else if (message.type === 'close') {
      closeAll();
    }
  });
  process.on('disconnect', closeAll);
  send({ type: 'ready', ports });
}

const HOST_TIMEOUT_MS = 15_000;

function nextReply<T extends HostReply['type']>(child: ChildProcess, type: T): Promise<Extract<HostReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`resilience backend host: no "${type}" after ${HOST_TIMEOUT_MS} ms`)), HOST_TIMEOUT_MS);
    const onMessage = (message: HostReply): void => {
      if (message.type === type) done(undefined, message as Extract<HostReply, { type: T }>);
    };
    const onExit = (code: number | null): void => done(new Error(`resilience backend host exited (code ${code}) before "${type}"`));
    function done(error: Error | undefined, message?: Extract<HostReply, { type: T }>): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(message!);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/**
 * Starts one HTTP server per entry of `behaviours` on 127.0.0.1 in a forked child
 * process. Each answers with its index as the body, with its status, after its delay.
 */
export async function startResilienceBackends(behaviours: readonly Partial<BackendBehaviour>[]): Promise<ResilienceBackends> {
  const child = fork(fileURLToPath(import.meta.url), [HOST_FLAG, JSON.stringify(behaviours)], {
    execArgv: childExecArgv(),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let ports: number[];
  try {
    ports = (await nextReply(child, 'ready')).ports;
  } catch (error) {
    child.kill();
    throw error;
  }
  const send = (command: HostCommand): void => void child.send(command);
  return {
    ports,
    addresses: ports.map((port) => `127.0.0.1:${port}`),
    async configure(next) {
      const ack = nextReply(child, 'ack');
      send({ type: 'configure', behaviours: next.map((b) => ({ ...DEFAULT_BEHAVIOUR, ...b })) });
      await ack;
    },
    async counts() {
      const reply = nextReply(child, 'counts');
      send({ type: 'counts' });
      const { requests, slow } = await reply;
      return { requests, slow };
    },
    async kill(index) {
      const ack = nextReply(child, 'ack');
      send({ type: 'kill', index });
      await ack;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      send({ type: 'close' });
      const timer = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------
// The kill benchmark.
// ---------------------------------------------------------------------------------------

const BENCHMARK = 'resilience-kill';
const BACKENDS = 4;
const KILLED_INDEX = 1;
const DELAY_MS = 1;
const CONCURRENCY = 32;
const WARMUP_MS = scaled(1000, 200);
const MEASURE_MS = scaled(5000, 2500);
const KILL_AT_MS = scaled(1500, 500);
const POLL_MS = 10;
const INTERVAL_MS = 1000;

const OUTLIER_RULE = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc }
spec:
  host: svc
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 5
      consecutiveGatewayErrors: 5
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
`;

/** What one run measured. */
interface RunOutcome {
  readonly load: LoadResult;
  /** ms from the kill command to the endpoint showing as not available; NaN when it never did (or no kill). */
  readonly ejectedAfterMs: number;
  /** Whether the watched endpoint was ever seen not available (in a no-kill run: a false ejection). */
  readonly everUnavailable: boolean;
  /** The watched endpoint's `failures` at the end. */
  readonly failures: number;
  readonly warnings: readonly string[];
}

function watchedEndpoint(mesh: Mesh, key: string): { available: boolean; failures: number } | undefined {
  for (const service of mesh.services()) {
    for (const endpoint of service.endpoints) if (endpoint.key === key) return endpoint;
  }
  return undefined;
}

async function oneRun(kill: boolean): Promise<RunOutcome> {
  const backends = await startResilienceBackends(Array.from({ length: BACKENDS }, () => ({ delayMs: DELAY_MS })));
  const mesh = createMesh({ discovery: [staticEndpoints({ svc: [...backends.addresses] })], config: [OUTLIER_RULE] });
  const key = backends.addresses[KILLED_INDEX]!;
  const send = async (): Promise<void> => {
    const res = await request('http://svc/', { dispatcher: mesh.dispatcher });
    const body = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}, body ${body}`);
  };
  let killSentAt = Number.NaN;
  let ejectedAt = Number.NaN;
  let everUnavailable = false;
  let poller: NodeJS.Timeout | undefined;
  let killer: NodeJS.Timeout | undefined;
  let killDone: Promise<void> = Promise.resolve();
  try {
    await runLoad({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, send });
    poller = setInterval(() => {
      const endpoint = watchedEndpoint(mesh, key);
      if (endpoint && !endpoint.available && !everUnavailable) {
        everUnavailable = true;
        ejectedAt = performance.now();
      }
    }, POLL_MS);
    if (kill) {
      killer = setTimeout(() => {
        killSentAt = performance.now();
        killDone = backends.kill(KILLED_INDEX);
      }, KILL_AT_MS);
    }
    const load = await runLoad({ concurrency: CONCURRENCY, durationMs: MEASURE_MS, send });
    await killDone;
    const failures = watchedEndpoint(mesh, key)?.failures ?? Number.NaN;
    return {
      load,
      ejectedAfterMs: kill && everUnavailable ? ejectedAt - killSentAt : Number.NaN,
      everUnavailable,
      failures,
      warnings: mesh.warnings,
    };
  } finally {
    clearInterval(poller);
    clearTimeout(killer);
    await mesh.close();
    await backends.close();
  }
}

/** Runs the kill benchmark; see the file comment. */
export async function resilienceKill(log: Log): Promise<BenchmarkOutput> {
  log(`${BACKENDS} backends (child process, ${DELAY_MS} ms), c=${CONCURRENCY}, ${WARMUP_MS} ms warm-up + ${MEASURE_MS} ms measured ` +
    `per run; kill backend ${KILLED_INDEX} at ${KILL_AT_MS} ms; order no-kill, kill, kill, no-kill`);
  const runs: Array<{ kill: boolean; outcome: RunOutcome }> = [];
  for (const kill of [false, true, true, false]) {
    const outcome = await oneRun(kill);
    runs.push({ kill, outcome });
    const { load } = outcome;
    const total = load.completed + load.errors;
    log(
      `${(kill ? 'kill' : 'no-kill').padEnd(7)} ${formatNumber(total)} requests, ${load.errors} failed` +
        `${load.firstError ? ` (first: ${load.firstError})` : ''}; p99 ${(load.latency.p99 / 1000).toFixed(2)} ms; ` +
        (kill
          ? `ejected ${Number.isNaN(outcome.ejectedAfterMs) ? 'never' : `after ${outcome.ejectedAfterMs.toFixed(0)} ms`}`
          : `watched endpoint ${outcome.everUnavailable ? 'WAS ejected (false ejection)' : 'stayed available'}`) +
        `; its failures ${outcome.failures}`,
    );
  }
  const killed = runs.filter((r) => r.kill).map((r) => r.outcome);
  const healthy = runs.filter((r) => !r.kill).map((r) => r.outcome);
  const successRate = (outcomes: RunOutcome[]): number => {
    const completed = outcomes.reduce((s, o) => s + o.load.completed, 0);
    const total = outcomes.reduce((s, o) => s + o.load.completed + o.load.errors, 0);
    return (100 * completed) / total;
  };
  const ejection = killed.map((o) => o.ejectedAfterMs);
  // The worst run; NaN (never ejected) wins, so a miss is never hidden.
  const worstEjection = ejection.some(Number.isNaN) ? Number.NaN : Math.max(...ejection);
  const p99 = (outcomes: RunOutcome[]): number => Math.max(...outcomes.map((o) => o.load.latency.p99 / 1000));
  const results: BenchResult[] = [
    result({
      benchmark: BENCHMARK,
      metric: 'success rate, 1 of 4 backends killed mid-run (%; baseline: same runs, no kill)',
      unit: '%',
      mesh: successRate(killed),
      baseline: successRate(healthy),
      target: { on: 'mesh', op: '>=', value: 99.9, unit: '%' },
    }),
    result({
      benchmark: BENCHMARK,
      metric: 'time from kill to ejection, worst run (ms; baseline: outlier detection interval)',
      unit: 'ms',
      mesh: worstEjection,
      baseline: INTERVAL_MS,
      target: { on: 'ratio', op: '<=', value: 1 },
    }),
    result({
      benchmark: BENCHMARK,
      metric: 'p99 latency, worst run (ms; baseline: same runs, no kill)',
      unit: 'ms',
      mesh: p99(killed),
      baseline: p99(healthy),
    }),
  ];
  const notes = [
    `resilience-kill: ${BACKENDS} backends in a child process, c=${CONCURRENCY}, ${MEASURE_MS} ms measured per run after ` +
      `${WARMUP_MS} ms warm-up, kill (server closed, sockets destroyed) at ${KILL_AT_MS} ms; ejection polled every ` +
      `${POLL_MS} ms from mesh.services(); kill runs: ${ejection.map((ms) => (Number.isNaN(ms) ? 'never ejected' : `${ms.toFixed(0)} ms`)).join(', ')}; ` +
      `the dead endpoint's failures: ${killed.map((o) => o.failures).join(', ')}.`,
  ];
  if (healthy.some((o) => o.everUnavailable)) notes.push('resilience-kill: a live endpoint was ejected in a no-kill run (false ejection).');
  const outlierWarnings = [...new Set(runs.flatMap((r) => r.outcome.warnings))].filter((w) => /outlierDetection/.test(w));
  if (outlierWarnings.length > 0) notes.push(`resilience-kill: the mesh warned: ${outlierWarnings.join(' | ')}`);
  return { results, notes };
}

if (process.argv[2] === HOST_FLAG) void hostMain();
else runIfMain(import.meta.url, BENCHMARK, resilienceKill);
