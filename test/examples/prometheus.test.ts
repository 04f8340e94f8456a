// examples/prometheus against a real Prometheus server (Debian's `prometheus` package,
// installed by .ci/run) on loopback: it scrapes the example under traffic and its HTTP
// API is asked for the series and labels the issue names. `promtool check metrics` is
// clean for the default names; Istio's duration name draws the one lint warning noted
// in docs/telemetry.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { requireBinaries } from '../helpers/system-binaries.js';
import { startExample, type RunningExample } from './run-example.js';

const { skip, note } = requireBinaries([
  { bin: 'prometheus', pkg: 'prometheus' },
  { bin: 'promtool', pkg: 'prometheus' },
]);

const running: RunningExample[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const example of running.splice(0)) {
    // One that ended by itself (a port taken meanwhile, then retried) has no group left.
    if (example.child.exitCode !== null || example.child.signalCode !== null) continue;
    try {
      example.signalGroup('SIGINT');
    } catch {
      continue; // it ended between the check and the signal
    }
    await example.exit(30_000).catch(() => example.kill());
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A port free right now: bound on 127.0.0.1 and released (Prometheus cannot take port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The example on a free port, retried when another process took the port meanwhile. */
async function example(names: string): Promise<{ port: number; example: RunningExample }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = startExample('examples/prometheus/main.ts', { METRICS_PORT: String(port), METRIC_NAMES: names });
    running.push(started);
    try {
      await started.waitForOutput(/100 calls/, 60_000);
      return { port, example: started };
    } catch (error) {
      if (attempt >= 5 || !/EADDRINUSE/.test(started.stderr())) throw error;
    }
  }
}

/** Prometheus scraping `target` every second, on a free port (retried on EADDRINUSE). */
async function prometheus(target: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'proxyless-prometheus-'));
  dirs.push(dir);
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: proxyless\n    static_configs:\n      - targets: ['${target}']\n`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const ready = await new Promise<boolean>((resolve) => {
      child.once('exit', () => resolve(false));
      const poll = async (): Promise<void> => {
        if (child.exitCode !== null) return;
        try {
          if ((await fetch(`http://127.0.0.1:${port}/-/ready`)).ok) return resolve(true);
        } catch {
          // not listening yet
        }
        setTimeout(() => void poll(), 100);
      };
      void poll();
    });
    if (ready) return `http://127.0.0.1:${port}`;
    if (attempt >= 5 || !/address already in use/.test(stderr)) throw new Error(`prometheus did not start: ${stderr.slice(-2000)}`);
  }
}

async function query(base: string, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await res.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  expect(body.status).toBe('success');
  return body.data.result;
}

function promtool(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (output += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (output += t));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe.skipIf(skip)(`examples/prometheus with a real Prometheus${note}`, () => {
  it('Prometheus scrapes the series and labels under traffic (Istio names: reporter="source" and the standard labels)', async () => {
    const { port } = await example('both');
    const base = await prometheus(`127.0.0.1:${port}`);
    let istio: Awaited<ReturnType<typeof query>> = [];
    // Until a scrape holds calls to both replicas: the first scrape can come after only a
    // few calls, all to one of them (the balancer tries the other once the first fails).
    await vi.waitFor(async () => {
      istio = await query(base, 'istio_requests_total{reporter="source"}');
      expect(new Set(istio.map((s) => s.metric.destination_workload))).toEqual(new Set(['reviews-v1', 'reviews-v2']));
    }, { timeout: 60_000, interval: 500 });
    const labels = istio.map((s) => s.metric);
    expect(labels[0]).toMatchObject({
      job: 'proxyless',
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_workload_namespace: 'bookinfo',
      destination_service: 'reviews.default.svc.cluster.local',
      destination_service_name: 'reviews',
      request_protocol: 'http',
    });
    expect(new Set(labels.map((l) => l.destination_workload))).toEqual(new Set(['reviews-v1', 'reviews-v2']));
    for (const l of labels) {
      expect(l.response_code).toMatch(/^\d{3}$/);
      expect(l.response_flags).toMatch(/^(-|[A-Z,]+)$/);
    }
    await vi.waitFor(async () => {
      expect(await query(base, 'istio_request_duration_milliseconds_bucket{reporter="source",le="+Inf"}')).not.toEqual([]);
      expect(await query(base, 'http_client_request_duration_bucket{le="+Inf"}')).not.toEqual([]);
      expect(await query(base, 'proxyless_client_requests_total{proxyless_route="reviews.default"}')).not.toEqual([]);
      expect(await query(base, 'proxyless_client_retries_total')).not.toEqual([]);
      expect(await query(base, 'proxyless_endpoints{proxyless_endpoint_state="healthy"}')).not.toEqual([]);
    }, { timeout: 60_000, interval: 500 });
    // No path and no endpoint address on the request series.
    for (const s of await query(base, '{__name__=~"istio_requests_total|proxyless_client_requests_total"}')) {
      expect(Object.values(s.metric).some((v) => v.includes('/reviews/') || /127\.0\.0\.1:\d+$/.test(v) && v !== `127.0.0.1:${port}`)).toBe(false);
    }
  }, 180_000);

  it('promtool check metrics: clean for the default names; Istio\'s duration name draws the base-unit warning', async () => {
    const otel = await example('otel');
    const clean = await promtool(await (await fetch(`http://127.0.0.1:${otel.port}/metrics`)).text());
    expect(clean).toEqual({ code: 0, output: '' });
    const both = await example('both');
    const linted = await promtool(await (await fetch(`http://127.0.0.1:${both.port}/metrics`)).text());
    expect(linted.output.trim().split('\n')).toEqual(['istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"']);
  }, 180_000);
});
