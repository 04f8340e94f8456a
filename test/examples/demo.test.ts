// The demo (examples/demo) run as `npm run demo` runs it, with short phases: it must
// print every balancer's table and the summary, end by itself, end cleanly on Ctrl-C,
// and show the point of the default balancer: P2C Peak EWMA sends the slow replica a
// much smaller share of the traffic than round robin does.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
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

describe('examples/demo', () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('prints a table per balancer and a summary, ends by itself, and P2C Peak EWMA starves the slow replica', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '1.5' });
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
  }, 120_000);

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
  }, 120_000);
});
