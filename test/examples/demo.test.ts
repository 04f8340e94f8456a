// The demo (examples/demo) run as `npm run demo` runs it, with short phases. One full run
// is checked phase by phase, each phase in its own test so a failure names the feature:
// the balancers (a table each and a summary; P2C Peak EWMA sends the slow replica a much
// smaller share than round robin), the canary from YAML (a watched file rewritten moves
// the traffic from v1 to v2 with no failed request), resilience (a replica killed under
// traffic is ejected by outlier detection, its requests retried with no failure; a
// replica answering 500 for 2 s opens its circuit breaker, which refuses at once, goes
// half-open and closes), discovery from DNS (dnsmasq's SRV weights 1:2:3 become the round
// robin split) and from etcd (a replica that closes its registration gets no request once
// the mesh dropped it), then the exit (by itself, code 0) and the cleanup (dnsmasq, etcd
// and their temp directories gone), the drain (a traced request's spans, printed as a
// tree, join across two hops: caller → Fastify replica → Express service, the second hop
// mTLS with SVIDs from a dev CA; a replica
// drained with mesh.drain() leaves with every request it accepted answered and none failed). More runs stop it with Ctrl-C in each phase, and
// without dnsmasq or etcd (each named with its package and skipped). CI installs both.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints } from 'proxyless';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, outlierSettings } from 'proxyless/policy';
import { parseMeshYaml } from 'proxyless/config';
import { CANARY_YAML, canaryYaml, ROLLOUT } from '../../examples/demo/canary-config.js';
import { RESILIENCE_YAML } from '../../examples/demo/resilience-phase.js';
import { startExample, type Exit, type RunningExample } from './run-example.js';

const DEMO = 'examples/demo/main.ts';
/** Balancer names as the mesh reports them, in the demo's order. */
const BALANCERS = ['round-robin', 'random', 'least-request', 'ring-hash', 'p2c-peak-ewma'];

/** One row of the demo's summary table. */
interface SummaryRow {
  label: string;
  balancer: string;
  interrupted: boolean;
  requests: number;
  slowSharePercent: number;
}

/** Reads the rows under the `Summary` heading. */
function parseSummary(stdout: string): SummaryRow[] {
  const at = stdout.lastIndexOf('\nSummary\n');
  expect(at, 'the demo prints a Summary').toBeGreaterThanOrEqual(0);
  const rows: SummaryRow[] = [];
  const row = /^ {2}(.+?) {2,}([a-z0-9-]+)(\*?) +([\d,]+) +[\d,]+ +(?:[\d.]+|-) +(?:[\d.]+|-) +([\d.]+)%$/gm;
  for (const m of stdout.slice(at).matchAll(row)) {
    rows.push({
      label: m[1]!,
      balancer: m[2]!,
      interrupted: m[3] === '*',
      requests: Number(m[4]!.replaceAll(',', '')),
      slowSharePercent: Number(m[5]),
    });
  }
  return rows;
}

/** The per-balancer tables: balancer name → its replica rows (`fast-1 ...`, `slow-1 ...`). */
function parseTables(stdout: string): Map<string, string[]> {
  const tables = new Map<string, string[]>();
  // A table ends at the first empty line (later phases print rows of their own).
  const blocks = stdout.split(/^(?=.+ {2}→ {2}balancer )/m).slice(1).map((b) => b.split('\n\n')[0]!);
  for (const block of blocks) {
    const name = /→ {2}balancer (\S+)/.exec(block)![1]!;
    tables.set(name, block.split('\n').filter((line) => /^ {2}(fast|slow)-\d+ /.test(line)));
  }
  return tables;
}

/** One row of the canary's table: a config version and the share each app version served. */
interface CanaryRow {
  cause: string;
  split: string;
  requests: number;
  failed: number;
  v1Percent: number;
  v2Percent: number;
}

/** The canary phase as printed: its config file, the event lines, its table. */
interface CanaryOutput {
  configPath: string;
  rewrites: string[];
  applied: string[];
  header: string;
  rows: CanaryRow[];
}

function parseCanary(stdout: string): CanaryOutput {
  const at = stdout.indexOf('▶ canary from YAML');
  expect(at, 'the demo runs the canary phase').toBeGreaterThanOrEqual(0);
  const ends = ['\n▶ resilience', '\n▶ discovery', '\nSummary\n'].map((end) => stdout.indexOf(end, at)).filter((i) => i >= 0);
  const text = stdout.slice(at, Math.min(...ends));
  const configPath = /^ {2}config: (\S+)$/m.exec(text)?.[1];
  expect(configPath, text).toBeDefined();
  const row = /^ {2}\d (createMesh|configApplied) +(\S+) +([\d,]+) +(\d+) {2}.*?([\d.]+)% {2}.*?([\d.]+)%$/gm;
  return {
    configPath: configPath!,
    rewrites: text.split('\n').filter((l) => / s {2}rewrote /.test(l)),
    applied: text.split('\n').filter((l) => / s {2}configApplied /.test(l)),
    header: text.split('\n').find((l) => / requests · .* req\/s · \d+ failed$/.test(l)) ?? '',
    rows: [...text.matchAll(row)].map((m) => ({
      cause: m[1]!,
      split: m[2]!,
      requests: Number(m[3]!.replaceAll(',', '')),
      failed: Number(m[4]),
      v1Percent: Number(m[5]),
      v2Percent: Number(m[6]),
    })),
  };
}

/** The DNS part as printed: dnsmasq's pid and directory, the SRV answer, the table. */
interface DnsOutput {
  pid: number;
  dir: string;
  /** `SRV <priority> <weight> <port> <target>` lines: port → weight. */
  srv: Map<number, number>;
  header: string;
  rows: Array<{ replica: string; port: number; srvWeight: number; meshWeight: string; expected: number; share: number; requests: number }>;
  sources: string;
}

/** The text from `▶ <start>` to the next phase's `▶` or the Summary. */
function section(stdout: string, start: string): string | undefined {
  const at = stdout.indexOf(`▶ ${start}`);
  if (at < 0) return undefined;
  const ends = ['\n▶ ', '\nSummary\n'].map((end) => stdout.indexOf(end, at + 1)).filter((i) => i >= 0);
  return stdout.slice(at, Math.min(...ends));
}

const tableHeader = (text: string): string => text.split('\n').find((l) => / requests · .* req\/s · \d+ failed$/.test(l)) ?? '';
const number = (text: string): number => Number(text.replaceAll(',', ''));

function parseDns(stdout: string): DnsOutput {
  const text = section(stdout, 'discovery 1/2, DNS:');
  expect(text, 'the demo runs the DNS part').toBeDefined();
  const server = /^ {2}dnsmasq \(pid (\d+)\) on 127\.0\.0\.1:\d+, files in (\S+)$/m.exec(text!);
  expect(server, text).not.toBeNull();
  const row = /^ {2}(fast-\d+) +(\d+) +(\d+) +(\S+) +([\d.]+)% {2}\S* +([\d.]+)% +([\d,]+)$/gm;
  return {
    pid: Number(server![1]),
    dir: server![2]!,
    srv: new Map([...text!.matchAll(/^ {4}SRV 0 (\d+) (\d+) \S+ {2}→ A 127\.0\.0\.1$/gm)].map((m) => [Number(m[2]), Number(m[1])])),
    header: tableHeader(text!),
    rows: [...text!.matchAll(row)].map((m) => ({
      replica: m[1]!,
      port: Number(m[2]),
      srvWeight: Number(m[3]),
      meshWeight: m[4]!,
      expected: Number(m[5]),
      share: Number(m[6]),
      requests: number(m[7]!),
    })),
    sources: text!.split('\n').find((l) => l.startsWith('  mesh.sources(): ')) ?? '',
  };
}

/** The etcd part as printed: etcd's pid and data directory, the event lines, the table. */
interface EtcdOutput {
  text: string;
  pid: number;
  dir: string;
  keys: string[];
  /** When `registration.close()` was called and when the mesh dropped the endpoint, in s. */
  closedAt: number | undefined;
  droppedAt: number | undefined;
  header: string;
  rows: Array<{ replica: string; labels: string; before: number; beforeShare: number; after: number | undefined; afterShare: number | undefined; marker: string }>;
  between: string;
  sources: string;
}

function parseEtcd(stdout: string): EtcdOutput {
  const text = section(stdout, 'discovery 2/2, etcd:');
  expect(text, 'the demo runs the etcd part').toBeDefined();
  const pid = /^ {2}etcd [\d.]+ \(pid (\d+)\): 1 member, client URL http:\/\/127\.0\.0\.1:\d+$/m.exec(text!);
  const dir = /^ {2}data in (\S+)$/m.exec(text!);
  expect(pid, text).not.toBeNull();
  expect(dir, text).not.toBeNull();
  const share = String.raw`\S* +([\d.]+)% +([\d,]+)`;
  const row = new RegExp(String.raw`^ {2}(fast-\d+) +(\S+) +${share}(?: +${share})?(?: +◀ (.+))?$`, 'gm');
  return {
    text: text!,
    pid: Number(pid![1]),
    dir: dir![1]!,
    keys: [...text!.matchAll(/^ {4}(\/services\/reviews\/\S+) {2}127\.0\.0\.1:\d+ {2}labels version=v1$/gm)].map((m) => m[1]!),
    closedAt: Number(/^ {2}\+([\d.]+) s {2}fast-3: registration\.close\(\): lease revoked, key deleted \(\d+ ms\)$/m.exec(text!)?.[1] ?? Number.NaN) || undefined,
    droppedAt: Number(/^ {2}\+([\d.]+) s {2}fast-3: the mesh's watch dropped it \d+ ms after close\(\); 2 endpoints left$/m.exec(text!)?.[1] ?? Number.NaN) || undefined,
    header: tableHeader(text!),
    rows: [...text!.matchAll(row)].map((m) => ({
      replica: m[1]!,
      labels: m[2]!,
      beforeShare: Number(m[3]),
      before: number(m[4]!),
      afterShare: m[5] === undefined ? undefined : Number(m[5]),
      after: m[6] === undefined ? undefined : number(m[6]),
      marker: m[7] ?? '',
    })),
    between: text!.split('\n').find((l) => l.startsWith('  sent between close() and the drop')) ?? '',
    sources: text!.split('\n').find((l) => l.startsWith('  mesh.sources(): ')) ?? '',
  };
}

/** The kill part as printed: the kill and ejection lines, the table. */
interface KillOutput {
  text: string;
  /** When the replica was killed and when the mesh showed it unavailable, in s. */
  killedAt: number | undefined;
  ejectedAt: number | undefined;
  /** Ms from the kill to the ejection (the ejection line), tries that failed on the replica (the table). */
  ejectedAfterMs: number | undefined;
  failedTries: number | undefined;
  header: string;
  rows: Array<{ replica: string; before: number; beforeShare: number; after: number | undefined; afterShare: number | undefined; marker: string }>;
  retried: string;
}

function parseKill(stdout: string): KillOutput {
  const text = section(stdout, 'resilience 1/2, a replica killed:');
  expect(text, 'the demo runs the kill part').toBeDefined();
  const killed = /^ {2}\+([\d.]+) s {2}ratings-3 killed: server closed, \d+ open connections destroyed$/m.exec(text!);
  const ejected = /^ {2}\+([\d.]+) s {2}ratings-3 ejected: mesh\.services\(\) shows it unavailable, (\d+) ms after the kill$/m.exec(text!);
  const retried = /^ {2}(\d+) tr(?:y|ies) failed on ratings-3, .*$/m.exec(text!);
  const share = String.raw`\S* +([\d.]+)% +([\d,]+)`;
  const row = new RegExp(String.raw`^ {2}(ratings-\d) +${share}(?: +${share})?(?: +◀ (.+))?$`, 'gm');
  return {
    text: text!,
    killedAt: killed ? Number(killed[1]) : undefined,
    ejectedAt: ejected ? Number(ejected[1]) : undefined,
    ejectedAfterMs: ejected ? Number(ejected[2]) : undefined,
    failedTries: retried ? Number(retried[1]) : undefined,
    header: tableHeader(text!),
    rows: [...text!.matchAll(row)].map((m) => ({
      replica: m[1]!,
      beforeShare: Number(m[2]),
      before: number(m[3]!),
      afterShare: m[4] === undefined ? undefined : Number(m[4]),
      after: m[5] === undefined ? undefined : number(m[5]),
      marker: m[6] ?? '',
    })),
    retried: retried?.[0] ?? '',
  };
}

/** The breaker part as printed: the event lines, the header, the table. */
interface BreakerOutput {
  text: string;
  /** `+<s> s  <what>` lines: the replica's changes and the mesh's breaker events, in order. */
  events: Array<{ at: number; what: string }>;
  sent: number;
  answered500: number;
  refused: number;
  otherErrors: number;
  rows: Array<{ at: number; event: string; breaker: string; ok: number; failed5xx: number; refused: number }>;
}

function parseBreaker(stdout: string): BreakerOutput {
  const text = section(stdout, 'resilience 2/2, a circuit breaker:');
  expect(text, 'the demo runs the breaker part').toBeDefined();
  const header = /^ {2}([\d,]+) sent \(([\d,]+) answered 500\) · ([\d,]+) refused at once · ([\d,]+) other errors$/m.exec(text!);
  expect(header, text).not.toBeNull();
  const event = /^ {2}\+([\d.]+) s {2}(circuitOpen|circuitHalfOpen|circuitClose|payments-1 starts answering 500|payments-1 recovers)(?:: | \()/gm;
  const row = /^ {2}\+([\d.]+) s +(traffic starts|replica fails|replica recovers|circuitOpen|circuitHalfOpen|circuitClose) +(closed|open|half-open) +(200|500) +([\d,]+) +([\d,]+) +([\d,]+)$/gm;
  return {
    text: text!,
    events: [...text!.matchAll(event)].map((m) => ({ at: Number(m[1]), what: m[2]! })),
    sent: number(header![1]!),
    answered500: number(header![2]!),
    refused: number(header![3]!),
    otherErrors: number(header![4]!),
    rows: [...text!.matchAll(row)].map((m) => ({
      at: Number(m[1]),
      event: m[2]!,
      breaker: m[3]!,
      ok: number(m[5]!),
      failed5xx: number(m[6]!),
      refused: number(m[7]!),
    })),
  };
}

/** The mesh's breaker events in the order printed: `open`, `half-open`, `close`. */
function breakerEvents(output: BreakerOutput): string[] {
  const names: Record<string, string> = { circuitOpen: 'open', circuitHalfOpen: 'half-open', circuitClose: 'close' };
  return output.events.filter((e) => e.what in names).map((e) => names[e.what]!);
}

/** Processes whose command line contains `text` (Linux: /proc), e.g. a daemon's temp directory. */
function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** The temp directories the demo printed for dnsmasq and etcd. */
function daemonDirs(stdout: string): string[] {
  return [...stdout.matchAll(/(?:files|data) in (\S*proxyless-demo-(?:dns|etcd)-[^\s/\\]+)/g)].map((m) => m[1]!);
}

/** Checks that neither a process nor the directory is left of each daemon the demo started. */
function expectNothingLeft(stdout: string): void {
  const dirs = daemonDirs(stdout);
  for (const dir of dirs) {
    expect(existsSync(dir), `${dir} is removed`).toBe(false);
    if (process.platform === 'linux') expect(processesMentioning(dir), `no process still uses ${dir}`).toEqual([]);
  }
}

/**
 * Sends SIGINT to the example's whole process group, as a terminal does on Ctrl-C, and
 * checks that it exits 0 by itself (within 40 s, ample on a loaded machine) with nothing on stderr; returns its stdout.
 */
async function interruptAndExitCleanly(run: RunningExample): Promise<string> {
  run.signalGroup('SIGINT');
  const exit = await run.exit(40_000);
  const stdout = run.stdout();
  expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
  expect(run.stderr()).toBe('');
  return stdout;
}

/** Kills what a run may have left behind (after a failure): its process group, dnsmasq, etcd, their directories. */
function cleanUp(run: RunningExample | undefined): void {
  run?.kill();
  // dnsmasq and etcd run in their own process groups.
  for (const dir of daemonDirs(run?.stdout() ?? '')) {
    if (process.platform === 'linux') for (const pid of processesMentioning(dir)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** DEMO_PROGRESS prints `  … 100 requests answered` once each traffic run has had 100 answers. */
const PROGRESS = String.raw`\n  … 100 requests answered\n`;

describe('examples/demo: one full run, checked phase by phase', () => {
  // One run (about 40 s) serves every test here; each checks its own phase in the output.
  // Each measured window also waits for 400 answers (DEMO_MIN_ANSWERS): the counts and
  // shares checked below then rest on enough requests however slow this machine is.
  let run: RunningExample | undefined;
  let ended: Exit | Error = new Error('the demo did not run');
  let stdout = '';
  beforeAll(async () => {
    // The kill part gets 3 s: its replicas are now Fastify services in the demo's own
    // process, and each replica's share after the ejection needs enough requests to read.
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '1.5', DEMO_SECONDS_PER_CANARY_STEP: '1.5', DEMO_SECONDS_PER_DISCOVERY: '2', DEMO_SECONDS_PER_KILL: '3', DEMO_MIN_ANSWERS: '400' });
    ended = await run.exit(170_000).catch((error: unknown) => error as Error);
    stdout = run.stdout();
  }, 180_000);
  afterAll(() => cleanUp(run));

  it('ends by itself with exit code 0 and nothing on stderr, prints plain text off a terminal, and its total time last', () => {
    expect(ended, stdout + run!.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run!.stderr()).toBe('');
    // Not a terminal: plain text, no cursor movement or colour.
    expect(stdout).not.toContain('\x1b[');
    const total = /^Total: ([\d.]+) s$/m.exec(stdout);
    expect(total, 'the demo prints its total time last').not.toBeNull();
    expect(stdout.trimEnd().endsWith(total![0])).toBe(true);
  });

  it('balancers: a table per balancer, no failed request, a summary, and P2C Peak EWMA starves the slow replica', () => {
    const tables = parseTables(stdout);
    expect([...tables.keys()]).toEqual(BALANCERS);
    for (const [name, rows] of tables) {
      expect(rows, name).toHaveLength(5); // 4 fast replicas and the slow one
      expect(rows.filter((r) => r.includes('◀ slow')), name).toHaveLength(1);
    }
    // Every request succeeded, in every balancer phase.
    expect([...stdout.matchAll(/· (\d+) errors/g)].map((m) => m[1])).toEqual(['0', '0', '0', '0', '0']);

    const summary = parseSummary(stdout);
    expect(summary.map((r) => r.balancer)).toEqual(BALANCERS);
    expect(summary.map((r) => r.label)).toEqual([
      'simple: ROUND_ROBIN',
      'simple: RANDOM',
      'simple: LEAST_REQUEST',
      'consistentHash: x-user',
      'no rule (default)',
    ]);
    for (const r of summary) {
      expect(r.interrupted).toBe(false);
      expect(r.requests, r.balancer).toBeGreaterThan(100);
    }
    // Round robin gives each of the 5 replicas a fifth; P2C Peak EWMA learns that one is
    // 50 ms slower and sends it far less. Generous margins: this is a property of the
    // balancers, not of how fast this machine is.
    const share = (balancer: string): number => summary.find((r) => r.balancer === balancer)!.slowSharePercent;
    expect(share('round-robin')).toBeGreaterThan(15);
    expect(share('round-robin')).toBeLessThan(25);
    expect(share('p2c-peak-ewma')).toBeLessThan(share('round-robin') / 2);
  });

  it('canary from YAML: rewriting the watched file moves v2 from 10 % to 50 % to 100 %, each edit a configApplied, none failed', () => {
    // The file the mesh watches is rewritten 90/10 → 50/50 → 0/100; each edit arrives as a
    // configApplied event and a new row, and v2's share follows.
    const canary = parseCanary(stdout);
    expect(canary.configPath).toMatch(/proxyless-demo-[^/\\]+[/\\]canary\.yaml$/);
    expect(existsSync(canary.configPath), 'the temp config is removed at the end').toBe(false);
    expect(canary.rewrites).toHaveLength(2);
    expect(canary.applied).toHaveLength(2);
    for (const line of canary.applied) expect(line).toContain(`configApplied from file(${canary.configPath}): 2 resources → `);
    expect(canary.applied[0]).toMatch(/→ v1 50 % · v2 50 %$/);
    expect(canary.applied[1]).toMatch(/→ v1 0 % · v2 100 %$/);
    expect(canary.rows.map((r) => [r.cause, r.split])).toEqual([
      ['createMesh', '90/10'],
      ['configApplied', '50/50'],
      ['configApplied', '0/100'],
    ]);
    for (const r of canary.rows) {
      expect(r.requests, r.split).toBeGreaterThan(100);
      expect(r.failed, r.split).toBe(0);
      expect(r.v1Percent + r.v2Percent, r.split).toBeCloseTo(100, 0);
    }
    // Generous margins around 10 %, 50 % and 100 %: the split is drawn at random per request.
    const [first, second, third] = canary.rows.map((r) => r.v2Percent);
    expect(first).toBeGreaterThan(3);
    expect(first).toBeLessThan(20);
    expect(second).toBeGreaterThan(35);
    expect(second).toBeLessThan(65);
    expect(third).toBeGreaterThanOrEqual(99);
    expect(canary.header).toMatch(/ · 0 failed$/);
    expect(stdout).toMatch(/^ {2}canary from YAML: v2 share [\d.]+% → [\d.]+% → 100\.0%, 0 failed of [\d,]+ requests$/m);
  });

  it('resilience, a replica killed: outlier detection ejects it after the kill, retries leave no failed request, the others share its traffic', () => {
    // ratings-3 is killed halfway; the mesh shows it unavailable (ejected by outlier
    // detection) after the kill, it gets no request from then on, the other three share its
    // traffic, and the retries leave no failed request. (How soon it is ejected is up to the
    // machine: the demo itself reports a replica still available 5 s after the kill.)
    const kill = parseKill(stdout);
    expect(kill.killedAt, kill.text).toBeDefined();
    expect(kill.ejectedAt, kill.text).toBeDefined();
    expect(kill.ejectedAt!).toBeGreaterThanOrEqual(kill.killedAt!);
    expect(kill.failedTries!, 'the ejection came from failed tries').toBeGreaterThanOrEqual(1);
    expect(kill.header).toMatch(/ · 0 failed$/);
    expect(kill.retried).toMatch(/^ {2}\d+ tr(?:y|ies) failed on ratings-3, each retried on another replica: no request failed$/);
    expect(kill.rows.map((r) => [r.replica, r.marker])).toEqual([
      ['ratings-1', ''],
      ['ratings-2', ''],
      ['ratings-3', 'killed, ejected'],
      ['ratings-4', ''],
    ]);
    for (const r of kill.rows) {
      expect(r.before, r.replica).toBeGreaterThan(50);
      expect(Math.abs(r.beforeShare - 25), r.replica).toBeLessThan(5); // round robin
    }
    for (const r of kill.rows.filter((row) => row.replica !== 'ratings-3')) {
      expect(r.after, r.replica).toBeGreaterThan(50);
      expect(Math.abs(r.afterShare! - 100 / 3), r.replica).toBeLessThan(5);
    }
    expect(kill.rows[2]).toMatchObject({ after: 0, afterShare: 0 });
    expect(stdout).toMatch(/^ {2}resilience, kill: ratings-3 [\d.]+% → 0\.0%, ejected \d+ ms after the kill, 0 failed of [\d,]+ requests$/m);
  });

  it('resilience, a circuit breaker: opens on 500s, refuses at once while open, goes half-open, closes after the recovery', () => {
    // payments-1 answers 500 from +0.5 s to +2.5 s. The breaker opens after the failures
    // start, refuses requests at once while open (none is sent), goes half-open after 1 s
    // (a failed probe opens it again), and closes after the recovery.
    const breaker = parseBreaker(stdout);
    const sequence = breakerEvents(breaker);
    expect(sequence.join(' '), breaker.text).toMatch(/^(open half-open )+close$/);
    const at = (what: string): number => breaker.events.find((e) => e.what === what)!.at;
    const times = breaker.events.map((e) => e.at);
    expect(times, 'events print in time order').toEqual([...times].sort((a, b) => a - b));
    expect(at('circuitOpen')).toBeGreaterThanOrEqual(at('payments-1 starts answering 500'));
    expect(breaker.events.findLast((e) => e.what === 'circuitClose')!.at).toBeGreaterThanOrEqual(at('payments-1 recovers'));
    expect(breaker.refused, 'requests refused at once while open').toBeGreaterThan(0);
    expect(breaker.sent).toBeGreaterThan(100);
    expect(breaker.answered500).toBeGreaterThan(10); // at least volumeThreshold failures before it opened
    expect(breaker.otherErrors).toBe(0);
    // One row per period; the table adds up to the header.
    expect(breaker.rows.map((r) => r.event)).toEqual([
      'traffic starts',
      ...breaker.events.map((e) => (e.what.startsWith('payments-1 starts') ? 'replica fails' : e.what.startsWith('payments-1 recovers') ? 'replica recovers' : e.what)),
    ]);
    const sum = (rows: BreakerOutput['rows'], f: (r: BreakerOutput['rows'][number]) => number): number => rows.reduce((n, r) => n + f(r), 0);
    expect(sum(breaker.rows, (r) => r.refused)).toBe(breaker.refused);
    expect(sum(breaker.rows, (r) => r.ok + r.failed5xx)).toBe(breaker.sent);
    // While open, requests are refused rather than sent; while closed, none is refused
    // (at most one per caller in flight at a transition).
    const open = breaker.rows.filter((r) => r.breaker === 'open');
    expect(sum(open, (r) => r.refused)).toBeGreaterThan(0);
    expect(sum(open, (r) => r.ok + r.failed5xx)).toBeLessThanOrEqual(16);
    expect(sum(breaker.rows.filter((r) => r.breaker === 'closed'), (r) => r.refused)).toBeLessThanOrEqual(16);
    expect(breaker.rows.at(-1)).toMatchObject({ event: 'circuitClose', breaker: 'closed', failed5xx: 0 });
    expect(breaker.rows.at(-1)!.ok, 'requests flow again after it closed').toBeGreaterThan(100);
    expect(stdout).toMatch(/^ {2}resilience, breaker: (open → half-open → )+close, [\d,]+ refused at once, [\d,]+ sent \([\d,]+ answered 500\)$/m);
  });

  it("discovery, DNS: dnsmasq's SRV weights 1:2:3 become the endpoints' weights and the round robin split, none failed", () => {
    // dnsmasq serves SRV records with weights 1, 2, 3 for three replicas; the mesh takes
    // them as endpoint weights and round robin splits 1/6, 2/6, 3/6.
    const dns = parseDns(stdout);
    expect(dns.rows.map((r) => [r.replica, r.srvWeight, r.meshWeight])).toEqual([
      ['fast-1', 1, '1'],
      ['fast-2', 2, '2'],
      ['fast-3', 3, '3'],
    ]);
    for (const r of dns.rows) expect(dns.srv.get(r.port), `dnsmasq's SRV answer for port ${r.port}`).toBe(r.srvWeight);
    expect(dns.header).toMatch(/ · 0 failed$/);
    const dnsRequests = dns.rows.reduce((sum, r) => sum + r.requests, 0);
    expect(dnsRequests).toBeGreaterThan(300);
    for (const r of dns.rows) {
      expect(r.expected).toBeCloseTo((100 * r.srvWeight) / 6, 1);
      // Weighted round robin is exact up to one cycle; generous margins all the same.
      expect(Math.abs(r.share - r.expected), r.replica).toBeLessThan(3);
      expect(Math.abs((100 * r.requests) / dnsRequests - r.expected), r.replica).toBeLessThan(3);
    }
    expect(dns.sources).toMatch(/^ {2}mesh\.sources\(\): dns\(127\.0\.0\.1:\d+\) · ready: true · [1-9]\d* queries, 0 failed · 3 endpoints$/);
    expect(stdout).toMatch(/^ {2}discovery, DNS SRV: weights 1:2:3 → [\d.]+% · [\d.]+% · [\d.]+%, 0 failed of [\d,]+ requests$/m);
  });

  it('discovery, etcd: three replicas register, the mesh finds them; one closes its registration and gets no request once dropped, none failed', () => {
    // fast-3 closes its registration halfway, and once the mesh has dropped it, it gets no
    // request. (How soon the watch drops it is up to the machine: the demo itself reports an
    // endpoint still listed 2 s after close().)
    const etcd = parseEtcd(stdout);
    expect(etcd.keys).toEqual(['/services/reviews/fast-1', '/services/reviews/fast-2', '/services/reviews/fast-3']);
    expect(etcd.closedAt, etcd.text).toBeDefined();
    expect(etcd.droppedAt, etcd.text).toBeDefined();
    expect(etcd.droppedAt!).toBeGreaterThanOrEqual(etcd.closedAt!);
    expect(etcd.header).toMatch(/ · 0 failed$/);
    expect(etcd.rows.map((r) => [r.replica, r.labels, r.marker])).toEqual([
      ['fast-1', 'version=v1', ''],
      ['fast-2', 'version=v1', ''],
      ['fast-3', 'version=v1', 'deregistered'],
    ]);
    for (const r of etcd.rows) {
      expect(r.before, r.replica).toBeGreaterThan(50);
      expect(Math.abs(r.beforeShare - 100 / 3), r.replica).toBeLessThan(5);
    }
    const [stays1, stays2, leaves] = etcd.rows;
    expect(leaves!.after, 'requests to the deregistered replica after the drop').toBe(0);
    expect(leaves!.afterShare).toBe(0);
    for (const r of [stays1!, stays2!]) {
      expect(r.after, r.replica).toBeGreaterThan(50);
      expect(Math.abs(r.afterShare! - 50), r.replica).toBeLessThan(5);
    }
    expect(etcd.between).toMatch(/^ {2}sent between close\(\) and the drop \(\d+ ms\): [\d,]+ requests, [\d,]+ to fast-3$/);
    expect(etcd.sources).toBe('  mesh.sources(): etcd(/services) · ready: true · 1 service · 2 endpoints');
    expect(stdout).toMatch(/^ {2}discovery, etcd: fast-3 [\d.]+% → 0\.0% after deregistering, 0 failed of [\d,]+ requests$/m);
  });

  it('drain: Fastify replicas calling an Express service; a traced request\'s spans print as a tree joined across both hops; a draining replica leaves with every accepted request answered, none failed', () => {
    const at = stdout.indexOf('▶ drain: ');
    expect(at, 'the drain phase runs').toBeGreaterThanOrEqual(0);
    const text = stdout.slice(at, stdout.indexOf('\nSummary\n'));
    expect(text).toMatch(/^ {2}trace [0-9a-f]{8}… \(caller → orders → inventory\):$/m);
    // The tree: the caller's span at the root; per hop the mesh's call span, its CLIENT
    // span (whose context went on the wire), then the replica's SERVER span, each one level deeper.
    const tree = text.split('\n').filter((line) => /^ {4}\S|^ {4}[ │]*[└├]─ /.test(line));
    expect(tree[0], text).toMatch(/^ {4}demo caller +INTERNAL +demo +[\d.]+ ms$/);
    const orders = tree.findIndex((line) => /[└├]─ GET \/orders\/:id +SERVER +orders-\d +[\d.]+ ms$/.test(line));
    const items = tree.findIndex((line) => /[└├]─ GET \/items\/:id +SERVER +inventory +[\d.]+ ms$/.test(line));
    expect(orders, text).toBeGreaterThan(0);
    expect(items, text).toBeGreaterThan(orders);
    const indent = (line: string): number => line.search(/[└├]/);
    expect(indent(tree[items]!)).toBeGreaterThan(indent(tree[orders]!));
    const hop = (server: number): string[] => [tree[server - 2]!, tree[server - 1]!];
    for (const server of [orders, items]) {
      const [call, client] = hop(server);
      expect(call, text).toMatch(/[└├]─ mesh GET +INTERNAL /);
      expect(client, text).toMatch(/[└├]─ \S.* +CLIENT /);
      expect(indent(client)).toBe(indent(call) + 3);
      expect(indent(tree[server]!)).toBe(indent(client) + 3);
    }
    expect(text).toMatch(/^ {2}joined across both hops: \d+ spans, one root, each other span the child of the one above it$/m);
    // The hop to inventory is mTLS: inventory's STRICT port verified the orders replicas' SVID (and saw no plaintext caller).
    expect(text).toMatch(/^ {2}orders → inventory over mTLS \(STRICT port, SVIDs from a dev CA\): inventory verified cluster\.local\/ns\/default\/sa\/orders$/m);
    // The client mesh's admin endpoint answered: its dashboard URL, and its /clusters listing the three orders replicas.
    expect(text).toMatch(/^ {2}admin: dashboard at http:\/\/127\.0\.0\.1:\d+\/dashboard while the phase runs \(mesh\.admin\(\)\); \/clusters: orders\S* with 3 endpoints$/m);
    expect(text).toMatch(/^ {2}[\d,]+ requests · 0 failed$/m);
    const accepted = /^ {2}orders-3 accepted ([\d,]+) requests and answered ([\d,]+)$/m.exec(text);
    expect(accepted, text).not.toBeNull();
    expect(accepted![2]).toBe(accepted![1]);
    expect(text).toMatch(/^ {2}orders-3: readiness 503, deregistered \+0 ms, stopped accepting \+\d+ ms, drained, mesh closed \+\d+ ms$/m);
    // The other two carry its share: each gets more after the drain than the drained one
    // (the phase's second half is short, a few dozen requests on a loaded machine, so no
    // tighter split is asserted), and together most of it.
    const afterShare = (id: string): number => Number(new RegExp(`^ {2}${id} +[\\d.]+% +([\\d.]+)%`, 'm').exec(text)![1]);
    const [one, two, three] = ['orders-1', 'orders-2', 'orders-3'].map(afterShare) as [number, number, number];
    expect(one).toBeGreaterThan(three);
    expect(two).toBeGreaterThan(three);
    expect(one + two).toBeGreaterThan(75);
    expect(stdout).toMatch(/^ {2}drain: orders-3 left, answered ([\d,]+) of \1 accepted, 0 failed of [\d,]+ requests$/m);
  });

  it('cleanup: dnsmasq and etcd are stopped and their temp directories removed', () => {
    const dns = parseDns(stdout);
    const etcd = parseEtcd(stdout);
    expect(daemonDirs(stdout)).toEqual([dns.dir, etcd.dir]);
    expectNothingLeft(stdout);
    expect(() => process.kill(dns.pid, 0)).toThrow();
    expect(() => process.kill(etcd.pid, 0)).toThrow();
  });
});

describe('examples/demo: its config files', () => {
  it('ships canary.yaml as valid Istio config that routes 90/10, and fills in any weights', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })], config: CANARY_YAML });
    expect(mesh.warnings).toEqual([]);
    const explained = await mesh.explain('http://reviews/');
    expect(explained.destinations.map((d) => [d.destination.split('/')[1], d.percent])).toEqual([
      ['v1', 90],
      ['v2', 10],
    ]);
    await mesh.close();

    expect(ROLLOUT).toEqual([
      { v1: 90, v2: 10 },
      { v1: 50, v2: 50 },
      { v1: 0, v2: 100 },
    ]);
    const text = canaryYaml({ v1: 25, v2: 75 });
    expect([...text.matchAll(/subset: (v\d)\n\s+weight: (\d+)/g)].map((m) => [m[1], m[2]])).toEqual([
      ['v1', '25'],
      ['v2', '75'],
    ]);
  });

  it('ships resilience.yaml as valid Istio config: outlier detection and retries for ratings, a circuit breaker for payments', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ ratings: ['127.0.0.1:1'], payments: ['127.0.0.1:2'] })], config: RESILIENCE_YAML });
    expect(mesh.warnings).toEqual([]);
    const ratings = await mesh.explain('http://ratings/');
    expect(ratings.destinations.map((d) => d.balancer)).toEqual(['round-robin']);
    expect(ratings.policies).toEqual(['retries: 2 retries on 5xx,reset,connect-failure; a request that may have reached the application is replayed only for idempotent methods (proxyless.dev/retry-non-idempotent opts a route in)']);
    const payments = await mesh.explain('http://payments/');
    expect(payments.destinations[0]!.destinationRule).toMatch(/^DestinationRule\/payments /);
    await mesh.close();

    const resources = parseMeshYaml(readFileSync(RESILIENCE_YAML, 'utf8'), RESILIENCE_YAML) as Array<{
      metadata: { name: string; annotations?: Record<string, string> };
      spec: { trafficPolicy?: { outlierDetection?: Parameters<typeof outlierSettings>[0] } };
    }>;
    const [ratingsRule, , paymentsRule] = resources;
    expect(outlierSettings(ratingsRule!.spec.trafficPolicy!.outlierDetection)).toMatchObject({
      consecutive5xxErrors: 3,
      consecutiveGatewayErrors: 3,
      intervalMs: 1000,
      baseEjectionTimeMs: 30_000,
      maxEjectionPercent: 50,
    });
    expect(breakerSettings(paymentsRule!.metadata.annotations![CIRCUIT_BREAKER_ANNOTATION], 'payments')).toMatchObject({
      volumeThreshold: 10,
      errorThresholdPercentage: 50,
      rollingWindowMs: 10_000,
      resetTimeoutMs: 1000,
      halfOpenSuccesses: 2,
    });
  });

});

describe('examples/demo: Ctrl-C in each phase, and a missing server', () => {
  // Each run sends Ctrl-C once the phase it stops has had traffic (DEMO_PROGRESS prints a
  // line after 100 answers), well before the phase's own end: the phases it stops last
  // 60 s, which no machine needs for 100 answers.
  let run: RunningExample | undefined;
  afterEach(() => {
    cleanUp(run);
    run = undefined;
  });

  it('on Ctrl-C (SIGINT) during the first balancer: stops, prints the partial table and the summary, exits 0', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '60', DEMO_PROGRESS: '1' });
    await run.waitForOutput(new RegExp(String.raw`▶ 1/5 simple: ROUND_ROBIN[\s\S]*?${PROGRESS}`), 60_000);
    const stdout = await interruptAndExitCleanly(run);

    // It stopped during the first phase, well before its 60 s were up...
    const stoppedAfter = /balancer round-robin {2}\[interrupted after (\d+\.\d) s\]/.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(55);
    expect(stdout).not.toContain('▶ 2/5');
    expect([...parseTables(stdout).keys()]).toEqual(['round-robin']);
    // ...and still reported what it had measured.
    const summary = parseSummary(stdout);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ balancer: 'round-robin', interrupted: true });
    expect(summary[0]!.requests).toBeGreaterThan(0);
    expect(stdout).toContain('* interrupted (Ctrl-C)');
    expect(stdout).not.toContain('canary from YAML');
  }, 120_000);

  it('on Ctrl-C during the canary: stops, prints its partial table and the summary, removes the temp file, exits 0', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '0.3', DEMO_SECONDS_PER_CANARY_STEP: '60', DEMO_PROGRESS: '1' });
    await run.waitForOutput(new RegExp(String.raw`createMesh\(\{ config: path \}\) read the file[\s\S]*?${PROGRESS}`), 60_000);
    const stdout = await interruptAndExitCleanly(run);

    const stoppedAfter = /canary from YAML {2}→ {2}VirtualService reviews {2}\[interrupted after (\d+\.\d) s\]/.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(55);
    const canary = parseCanary(stdout);
    expect(existsSync(canary.configPath)).toBe(false);
    expect(canary.rows).toHaveLength(1);
    expect(canary.rows[0]).toMatchObject({ cause: 'createMesh', split: '90/10', failed: 0 });
    expect(parseSummary(stdout).map((r) => r.balancer)).toEqual(BALANCERS);
    expect(stdout).toMatch(/^ {2}canary from YAML \(interrupted\): v2 share [\d.]+%, 0 failed of [\d,]+ requests$/m);
    expect(stdout).not.toContain('▶ discovery');
  }, 120_000);

  it('on Ctrl-C during the circuit breaker: stops, prints its partial table and the summary, closes its servers, exits 0', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '0.3' });
    // Half-open comes a resetTimeout (1 s) after it opened: requests were refused meanwhile.
    await run.waitForOutput(/^ {2}\+[\d.]+ s {2}circuitHalfOpen: /m, 60_000);
    // The demo ends by itself once everything is closed: a replica left listening would keep it running.
    const stdout = await interruptAndExitCleanly(run);

    expect(parseKill(stdout).header).toMatch(/ · 0 failed$/);
    const stoppedAfter = /^resilience: circuit breaker {2}→ {2}payments\.default\.svc\.cluster\.local {2}\[interrupted after (\d+\.\d) s\]$/m.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(5);
    const breaker = parseBreaker(stdout);
    expect(breakerEvents(breaker)[0]).toBe('open');
    expect(breaker.refused).toBeGreaterThan(0);
    expect(stdout).toMatch(/^ {2}resilience, kill: ratings-3 [\d.]+% → 0\.0%, ejected \d+ ms after the kill, 0 failed of [\d,]+ requests$/m);
    expect(stdout).toMatch(/^ {2}resilience, breaker \(interrupted\): open( → [a-z-]+)*, [\d,]+ refused at once, [\d,]+ sent \([\d,]+ answered 500\)$/m);
    expect(stdout).not.toContain('▶ discovery');
    expect(stdout).toMatch(/^Total: [\d.]+ s$/m);
  }, 120_000);

  it('on Ctrl-C during the DNS part: stops dnsmasq, removes its directory, skips etcd, exits 0', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '0.3', DEMO_SECONDS_PER_DISCOVERY: '60', DEMO_PROGRESS: '1' });
    await run.waitForOutput(new RegExp(String.raw`\n {2}mesh\.services\(\): reviews\.demo\.svc\.cluster\.local, 3 endpoints[\s\S]*?${PROGRESS}`), 60_000);
    const stdout = await interruptAndExitCleanly(run);

    const stoppedAfter = /^discovery: DNS SRV {2}→ {2}reviews\.demo\.svc\.cluster\.local \(round-robin\) {2}\[interrupted after (\d+\.\d) s\]$/m.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(55);
    expect(parseDns(stdout).header).toMatch(/ · 0 failed$/);
    expect(stdout).not.toContain('▶ discovery 2/2');
    expect(stdout).toMatch(/^ {2}discovery, DNS SRV \(interrupted\): weights 1:2:3 → .*, 0 failed of [\d,]+ requests$/m);
    expect(stdout).not.toContain('discovery, etcd');
    expect(daemonDirs(stdout)).toHaveLength(1);
    expectNothingLeft(stdout);
    expect(stdout).toMatch(/^Total: [\d.]+ s$/m);
  }, 120_000);

  it('on Ctrl-C during the etcd part: stops etcd, removes its data, exits 0; without dnsmasq, says how to install it', async () => {
    run = startExample(DEMO, {
      DEMO_SECONDS_PER_BALANCER: '0.3',
      DEMO_SECONDS_PER_DISCOVERY: '60',
      DNSMASQ_BIN: '/nonexistent/dnsmasq',
      DEMO_PROGRESS: '1',
    });
    await run.waitForOutput(new RegExp(String.raw`Halfway, fast-3 deregisters[\s\S]*?${PROGRESS}`), 60_000);
    const stdout = await interruptAndExitCleanly(run);

    expect(stdout).toContain('▶ discovery 1/2, DNS: skipped, dnsmasq is not installed. To see it: sudo apt-get install dnsmasq-base\n');
    expect(stdout).toMatch(/^ {2}discovery, DNS SRV: skipped \(dnsmasq is not installed\)$/m);
    const etcd = parseEtcd(stdout);
    expect(etcd.text).toMatch(/^discovery: etcd {2}→ {2}reviews\.default\.svc\.cluster\.local \(round-robin\) {2}\[interrupted after \d\.\d s\]$/m);
    expect(etcd.closedAt).toBeUndefined(); // Ctrl-C came before the halfway point
    expect(etcd.header).toMatch(/ · 0 failed$/);
    expect(etcd.rows.map((r) => r.marker)).toEqual(['', '', 'deregisters halfway']);
    expect(stdout).toMatch(/^ {2}discovery, etcd \(interrupted\): fast-3 [\d.]+%, not yet deregistered, 0 failed of [\d,]+ requests$/m);
    expect(daemonDirs(stdout)).toEqual([etcd.dir]);
    expectNothingLeft(stdout);
    expect(() => process.kill(etcd.pid, 0)).toThrow();
  }, 120_000);

  it('without etcd: says how to install it and skips that part', async () => {
    run = startExample(DEMO, {
      DEMO_SECONDS_PER_BALANCER: '0.2',
      DEMO_SECONDS_PER_DISCOVERY: '0.5',
      ETCD_BIN: '/nonexistent/etcd',
    });
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    expect(parseDns(stdout).header).toMatch(/ · 0 failed$/);
    expect(stdout).toContain(
      '▶ discovery 2/2, etcd: skipped, /nonexistent/etcd is not installed. To see it: sudo apt-get install etcd-server\n',
    );
    expect(stdout).toMatch(/^ {2}discovery, etcd: skipped \(\/nonexistent\/etcd is not installed\)$/m);
    expectNothingLeft(stdout);
  }, 120_000);
});
