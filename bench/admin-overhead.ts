/**
 * Admin overhead: the request path with the admin server running and one dashboard open,
 * against the same mesh without them.
 *
 * One node:http backend runs in a child process (as in `overhead.ts`). One mesh sends
 * `undici.request`s at concurrency 32 to the logical service. Runs alternate in ABBA
 * order: for a "with admin" run, `mesh.admin()` is started and a dashboard client is
 * connected to `/dashboard/stream` before the run (a Node process of its own, started once,
 * as a browser would be, reading every frame), and the stream and server are closed after
 * it; "without" runs have
 * neither. The sampler ticks once a second (the default), building and sending one frame
 * a tick. Target: the median of the per-round ratios with / without >= 0.98 (each round's
 * two runs are adjacent in time; on a shared, loaded machine single runs swing by ±50 %,
 * and the paired median is what stays put). The medians of each side are in the row too.
 *
 * Not measured here: the counters the admin reads (an endpoint's request count and its
 * service's latency histogram) are kept whether or not an admin server runs, so both
 * sides pay them; `overhead.ts` measures the mesh with them against raw undici.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { createMesh, staticEndpoints, type AdminServer } from 'proxyless';
import { startBackends } from './lib/backends.js';
import { runIfMain } from './lib/entry.js';
import { assertNoErrors, runLoad, type LoadResult } from './lib/load.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'admin-overhead';
const CONCURRENCY = 32;
const ROUNDS = 20;
const RUN_MS = scaled(800, 200);
const WARMUP_MS = scaled(1500, 200);

/**
 * The dashboard client: a Node process of its own started once (as a browser would be one),
 * told over stdin to open a stream (`open URL`) or close it (`close`); it reports `frame`
 * on stdout for each frame read, so a round starts once the stream is really open.
 */
const CLIENT = `
const http = require('node:http');
let req;
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, url] = line.split(' ');
  if (cmd === 'close') { req?.destroy(); req = undefined; process.stdout.write('closed\\n'); return; }
  req = http.get(url, (res) => res.on('data', (c) => { const n = c.toString().split('event: frame').length - 1; if (n > 0) process.stdout.write('frame\\n'.repeat(n)); }));
  req.on('error', () => {});
});`;

class DashboardClient {
  readonly #child: ChildProcess;
  #waiters: Array<{ word: string; resolve: () => void }> = [];
  frames = 0;
  constructor() {
    this.#child = spawn(process.execPath, ['-e', CLIENT], { stdio: ['pipe', 'pipe', 'inherit'] });
    let buffered = '';
    this.#child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const word = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (word === 'frame') this.frames++;
        const i = this.#waiters.findIndex((w) => w.word === word);
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve();
      }
    });
  }
  #send(line: string, word: string): Promise<void> {
    const done = new Promise<void>((resolve) => this.#waiters.push({ word, resolve }));
    this.#child.stdin!.write(`${line}\n`);
    return done;
  }
  /** Opens the stream; resolves once its first frame was read. */
  open(url: string): Promise<void> {
    return this.#send(`open ${url}`, 'frame');
  }
  close(): Promise<void> {
    return this.#send('close', 'closed');
  }
  end(): void {
    this.#child.kill();
  }
}

/** Runs the benchmark; see the file comment. */
export async function adminOverhead(log: Log): Promise<BenchmarkOutput> {
  const backends = await startBackends([0]);
  const port = backends.ports[0]!;
  const mesh = createMesh({ discovery: [staticEndpoints({ svc: [`127.0.0.1:${port}`] })], endpointPool: { connections: CONCURRENCY } });
  const send = async (): Promise<void> => {
    const res = await request('http://svc/', { dispatcher: mesh.dispatcher });
    await res.body.text();
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
  };
  const without: LoadResult[] = [];
  const withAdmin: LoadResult[] = [];
  const client = new DashboardClient();
  let admin: AdminServer | undefined;
  const run = async (withIt: boolean, round: number): Promise<void> => {
    if (withIt) {
      admin = await mesh.admin();
      await client.open(`${admin.url}/dashboard/stream`);
    }
    try {
      const r = await runLoad({ concurrency: CONCURRENCY, durationMs: RUN_MS, send });
      assertNoErrors(`${withIt ? 'admin' : 'none'} round ${round}`, r);
      (withIt ? withAdmin : without).push(r);
      log(`round ${round + 1}/${ROUNDS} ${withIt ? 'admin+dashboard' : 'without'.padEnd(15)} ${formatNumber(r.throughput).padStart(7)} req/s  p99 ${formatNumber(r.latency.p99)} µs`);
    } finally {
      if (withIt) {
        await client.close();
        await admin!.close();
      }
    }
  };
  try {
    assertNoErrors('warm-up', await runLoad({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, send }));
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [false, true] : [true, false];
      for (const admin of order) await run(admin, round);
    }
  } finally {
    client.end();
    await mesh.close();
    await backends.close();
  }
  const ratios = withAdmin.map((r, i) => r.throughput / without[i]!.throughput);
  log(`per-round with/without: ${ratios.map((r) => r.toFixed(3)).join(' ')}; ${client.frames} frames read by the dashboard client`);
  return {
    results: [
      result({
        benchmark: BENCHMARK,
        metric: `undici.request throughput, c=${CONCURRENCY}, admin server + one dashboard stream open (req/s; baseline: same mesh without them)`,
        unit: 'req/s',
        mesh: median(withAdmin.map((r) => r.throughput)),
        baseline: median(without.map((r) => r.throughput)),
        ratio: median(ratios),
        target: { on: 'ratio', op: '>=', value: 0.98 },
      }),
      result({
        benchmark: BENCHMARK,
        metric: `p99 latency, c=${CONCURRENCY}, admin + dashboard (µs; baseline: without)`,
        unit: 'µs',
        mesh: median(withAdmin.map((r) => r.latency.p99)),
        baseline: median(without.map((r) => r.latency.p99)),
      }),
    ],
    notes: [
      `admin-overhead: ${ROUNDS} ABBA rounds of ${RUN_MS} ms per side at c=${CONCURRENCY}; the admin server and a client process reading /dashboard/stream ` +
        `(one frame a second) are started before each "with" run and closed after it. Ratio: median of the per-round with/without ratios ` +
        `(the req/s columns are each side's median). The counters the admin reads are on in both.`,
    ],
  };
}

runIfMain(import.meta.url, BENCHMARK, adminOverhead);
