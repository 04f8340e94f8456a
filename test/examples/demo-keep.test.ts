// The demo with `--keep` (what a terminal gets by default): after its phases it keeps the
// replicas, a mesh and its admin server running with light traffic, prints the dashboard
// URL, serves the dashboard (HTML), its JSON frame and its live stream while traffic
// flows, and on Ctrl-C or SIGTERM stops the callers, lets their requests finish, closes
// everything and exits 0 with none failed; Ctrl-C during the phases ends it there. The
// phases are made short, and DNS and etcd are skipped (their servers named missing):
// what is checked here is the part after them.
import { afterEach, describe, expect, it } from 'vitest';
import { startExample, type RunningExample } from './run-example.js';

const DEMO = 'examples/demo/main.ts';
const DASHBOARD_LINE = /^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/\S*) — Ctrl-C to stop$/m;

/** One frame of the dashboard's data (the fields read here). */
interface Frame {
  totals: { endpoints: number; available: number; rate: number };
  services: Array<{ key: string }>;
}

/** Reads the dashboard's Server-Sent Events until a frame satisfies `wanted`; returns it. */
async function frameFromStream(url: string, wanted: (frame: Frame) => boolean): Promise<Frame> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body!) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event)?.[1];
        if (/^event: frame$/m.test(event) && data !== undefined) {
          const frame = JSON.parse(data) as Frame;
          if (wanted(frame)) return frame;
        }
      }
    }
  } finally {
    controller.abort();
  }
  throw new Error('the dashboard stream ended before a frame with traffic');
}

describe('examples/demo --keep: kept running after the phases, until Ctrl-C or SIGTERM', () => {
  let run: RunningExample | undefined;
  afterEach(() => {
    run?.kill();
    run = undefined;
  });

  it.each([
    ['Ctrl-C (SIGINT)', 'SIGINT'],
    ['SIGTERM', 'SIGTERM'],
  ] as const)('prints the dashboard line, serves the dashboard, its JSON frame and a moving stream, then stops cleanly on %s with exit 0 and none failed', async (_name, signal) => {
    run = startExample(
      DEMO,
      { DEMO_SECONDS_PER_BALANCER: '0.2', DEMO_SECONDS_PER_DISCOVERY: '0.3', DNSMASQ_BIN: '/nonexistent/dnsmasq', ETCD_BIN: '/nonexistent/etcd' },
      ['--keep'],
    );
    await run.waitForOutput(DASHBOARD_LINE, 150_000);
    const stdout = run.stdout();
    const url = DASHBOARD_LINE.exec(stdout)![1]!;
    const replicas = Number(/service "reviews", (\d+) replicas/.exec(stdout)?.[1]);
    expect(replicas).toBeGreaterThan(0);
    // The summary of the phases came before the line: the line is the last thing printed.
    expect(stdout.indexOf('\nSummary\n')).toBeGreaterThan(0);
    expect(stdout.indexOf('\nSummary\n')).toBeLessThan(stdout.search(DASHBOARD_LINE));

    // The dashboard itself: an HTML page.
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<title>proxyless dashboard</title>');

    // Its JSON: the kept mesh knows reviews and every replica.
    const res = await fetch(`${url}/frame`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const frame = (await res.json()) as Frame;
    expect(frame.services.map((s) => s.key).some((k) => k.includes('reviews'))).toBe(true);
    expect(frame.totals.endpoints).toBe(replicas);

    // It moves: the stream brings a frame with requests flowing (waits for it, however slow the machine).
    const moving = await frameFromStream(`${url}/stream`, (f) => f.totals.rate > 0);
    expect(moving.totals.available).toBe(replicas);

    run.signalGroup(signal);
    const exit = await run.exit(40_000);
    const out = run.stdout();
    expect(exit, out + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    const kept = /^ {2}kept running: [\d.]+ s, (\d+) failed of (\d+) requests$/m.exec(out);
    expect(kept, out).not.toBeNull();
    expect(Number(kept![1])).toBe(0);
    expect(Number(kept![2])).toBeGreaterThan(0);
    expect(out).toMatch(/^Total: [\d.]+ s$/m);
    // The admin server closed with the mesh.
    await expect(fetch(url)).rejects.toThrow();
  }, 200_000);

  it('Ctrl-C during the phases ends the demo there, as without --keep: nothing is kept running', async () => {
    run = startExample(DEMO, { DEMO_SECONDS_PER_BALANCER: '60', DEMO_PROGRESS: '1' }, ['--keep']);
    // The first balancer's traffic has had 100 answers: well inside its 60 s.
    await run.waitForOutput(/▶ 1\/5 simple: ROUND_ROBIN[\s\S]*?\n {2}… 100 requests answered\n/, 60_000);
    run.signalGroup('SIGINT');
    const exit = await run.exit(40_000);
    const out = run.stdout();
    expect(exit, out + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    expect(out).toContain('\nSummary\n');
    expect(out).not.toMatch(DASHBOARD_LINE);
    expect(out).not.toContain('kept running');
    expect(out).toMatch(/^Total: [\d.]+ s$/m);
  }, 120_000);
});
