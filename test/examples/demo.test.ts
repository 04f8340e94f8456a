// The demo (examples/demo) run as `npm run demo` runs it, with short phases: it must
// print every balancer's table and the summary, end by itself, end cleanly on Ctrl-C,
// and show the point of the default balancer: P2C Peak EWMA sends the slow replica a
// much smaller share of the traffic than round robin does. Its last phase, the canary
// from YAML, must move the traffic from v1 to v2 by rewriting a watched file, with no
// failed request.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints } from 'proxyless';
import { CANARY_YAML, canaryYaml, ROLLOUT } from '../../examples/demo/canary-config.js';
import { startExample, type RunningExample } from './run-example.js';

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
  const blocks = stdout.split(/^(?=.+ {2}→ {2}balancer )/m).slice(1);
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
  const text = stdout.slice(at, stdout.indexOf('\nSummary\n', at));
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

describe('examples/demo', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('prints a table per balancer and a summary, ends by itself, and P2C Peak EWMA starves the slow replica', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '1.5', DEMO_SECONDS_PER_CANARY_STEP: '1.5' });
    const exit = await run.exit(90_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    // Not a terminal: plain text, no cursor movement or colour.
    expect(stdout).not.toContain('\x1b[');

    const tables = parseTables(stdout);
    expect([...tables.keys()]).toEqual(BALANCERS);
    for (const [name, rows] of tables) {
      expect(rows, name).toHaveLength(5); // 4 fast replicas and the slow one
      expect(rows.filter((r) => r.includes('◀ slow')), name).toHaveLength(1);
    }
    // Every request succeeded, in every phase.
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

    // The canary from YAML: the file the mesh watches is rewritten 90/10 → 50/50 → 0/100;
    // each edit arrives as a configApplied event and a new row, and v2's share follows.
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
  }, 120_000);

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

  it('on Ctrl-C (SIGINT) mid-run: stops, prints the partial table and the summary, exits 0', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '10' });
    await run.waitForOutput(/▶ 1\/5 simple: ROUND_ROBIN/, 60_000);
    await sleep(1000); // let the first phase run for a moment
    run.signalGroup('SIGINT'); // what a terminal sends on Ctrl-C: to the whole group
    const exit = await run.exit(20_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    // It stopped during the first phase, well before its 10 s were up...
    const stoppedAfter = /balancer round-robin {2}\[interrupted after (\d+\.\d) s\]/.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(9);
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
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '0.3', DEMO_SECONDS_PER_CANARY_STEP: '10' });
    await run.waitForOutput(/createMesh\(\{ config: path \}\) read the file/, 60_000);
    await sleep(1000);
    run.signalGroup('SIGINT');
    const exit = await run.exit(20_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    const stoppedAfter = /canary from YAML {2}→ {2}VirtualService reviews {2}\[interrupted after (\d+\.\d) s\]/.exec(stdout);
    expect(stoppedAfter, stdout).not.toBeNull();
    expect(Number(stoppedAfter![1])).toBeLessThan(9);
    const canary = parseCanary(stdout);
    expect(existsSync(canary.configPath)).toBe(false);
    expect(canary.rows).toHaveLength(1);
    expect(canary.rows[0]).toMatchObject({ cause: 'createMesh', split: '90/10', failed: 0 });
    expect(parseSummary(stdout).map((r) => r.balancer)).toEqual(BALANCERS);
    expect(stdout).toMatch(/^ {2}canary from YAML \(interrupted\): v2 share [\d.]+%, 0 failed of [\d,]+ requests$/m);
  }, 120_000);
});
