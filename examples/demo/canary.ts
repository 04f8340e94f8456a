// The demo's canary phase: a new version rolled out by editing a YAML file, as one
// would in a cluster. Two new replicas labelled `version: v2` join the fast `v1` ones;
// the mesh is created with `config: <path of a YAML file>` (canary.yaml: subsets v1 and
// v2, a VirtualService splitting 90/10) and watches it. While traffic runs the demo
// rewrites the file to 50/50, then 0/100; each `configApplied` event starts a new row of
// the table, which shows the share each version actually served and the failed requests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import type { DemoAdmin } from './admin.js';
import { startV2Replicas, type Replica, type ReplicaTiming } from './backends.js';
import { SERVICE } from './balancers.js';
import { CANARY_YAML, canaryYaml, ROLLOUT, writeAtomically, type CanaryWeights } from './canary-config.js';
import { CanaryStats, type CanaryReport } from './canary-stats.js';
import { runLoad } from './load.js';
import { waitWindow, type PhaseContext } from './phase-parts.js';
import type { Screen } from './screen.js';
import { renderCanary } from './table.js';

/** How many `version: v2` replicas the canary starts. */
const V2_REPLICAS = 2;
/** The URL the callers request (and that `mesh.explain` is asked about). */
const CANARY_URL = `http://${SERVICE}/api/reviews`;

/** What the canary phase needs. */
export interface CanaryPhase extends PhaseContext {
  /** The current release's replicas (`version: v1`); the slow one is left out. */
  readonly v1: readonly Replica[];
  /** How fast the new replicas answer. */
  readonly timing: ReplicaTiming;
  /** How long each split stays in force, in seconds. */
  readonly stepSeconds: number;
  /** Starts the mesh's admin server (the dashboard shows the split moving). */
  readonly admin?: DemoAdmin | undefined;
}

/** Runs the canary phase (or until Ctrl-C) and returns what it measured. */
export async function runCanary(phase: CanaryPhase): Promise<CanaryReport> {
  const { screen, style, stepSeconds, interrupted } = phase;
  const v2 = await startV2Replicas(V2_REPLICAS, phase.timing);
  const dir = mkdtempSync(join(tmpdir(), 'proxyless-demo-'));
  const path = join(dir, basename(CANARY_YAML));
  let mesh: Mesh | undefined;
  try {
    writeAtomically(path, canaryYaml(ROLLOUT[0]!));
    const stats = new CanaryStats(stepSeconds * ROLLOUT.length, [...phase.v1, ...v2]);
    screen.print(intro(phase, v2, path));

    // The mesh reads the file now and watches it from here on.
    mesh = createMesh({
      discovery: [staticEndpoints({ [SERVICE]: [...phase.v1, ...v2].map(endpoint) })],
      config: path,
    });
    await phase.admin?.attach(mesh);
    const events = watchConfig(mesh, stats, screen);
    events.stepStarted(stats.startStep('createMesh'), (split) => eventLine(0, `createMesh({ config: path }) read the file → ${split}`));

    const ticker = setInterval(() => {
      if (screen.live) screen.update(renderCanary(stats.report('running'), SERVICE, style));
    }, phase.tickMs);
    const stop = new AbortController();
    const answers = { answered: 0 };
    const load = runLoad({
      answers,
      dispatcher: mesh.dispatcher,
      url: CANARY_URL,
      concurrency: phase.concurrency,
      distinctUsers: phase.distinctUsers,
      stats,
      signal: stop.signal,
    });
    try {
      // Each next split: wait, then edit the file. The mesh notices by itself.
      for (const weights of ROLLOUT.slice(1)) {
        if (!(await waitWindow(stepSeconds, interrupted, answers, phase.minAnswers))) break;
        writeAtomically(path, canaryYaml(weights));
        screen.print([eventLine(stats.elapsedSeconds, `rewrote ${basename(path)}: ${describe(weights)} (temp file, then rename)`)]);
      }
      await waitWindow(stepSeconds, interrupted, answers, phase.minAnswers);
    } finally {
      stop.abort();
      await load;
      clearInterval(ticker);
    }
    stats.end();
    await events.settled();

    const report = stats.report(interrupted.aborted ? 'interrupted' : 'done');
    screen.commit([...renderCanary(report, SERVICE, style), '']);
    return report;
  } finally {
    await mesh?.close();
    await Promise.all(v2.map((r) => r.close()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A replica as discovery reports it: the `version` label is what the subsets select on. */
function endpoint(replica: Replica): { address: string; port: number; labels: Record<string, string> } {
  return { address: '127.0.0.1', port: replica.port, labels: { replica: replica.id, version: replica.version } };
}

/**
 * Follows the mesh's config events: each `configApplied` starts a new step (a new row)
 * and prints a line once `mesh.explain` has told the split now in force; a
 * `configError` (say, a bad edit by hand) prints the error: the last good config stays.
 */
function watchConfig(mesh: Mesh, stats: CanaryStats, screen: Screen) {
  const pending = new Set<Promise<void>>();
  /** Asks the mesh for the split of step `number`, then prints `line` with it. */
  const stepStarted = (number: number, line?: (split: string) => string): void => {
    const done = splitInForce(mesh)
      .then((split) => {
        stats.setSplit(number, split);
        if (line) screen.print([line(describe(split))]);
      })
      .catch(() => {}) // mesh closed meanwhile: nothing to show
      .finally(() => pending.delete(done));
    pending.add(done);
  };
  mesh.on('configApplied', ({ source, resources, warnings }) => {
    const at = stats.elapsedSeconds;
    const warned = warnings.length > 0 ? `, ${warnings.length} warnings` : '';
    stepStarted(stats.startStep('configApplied'), (split) => eventLine(at, `configApplied from ${source}: ${resources} resources${warned} → ${split}`));
  });
  mesh.on('configError', (error, source) => {
    screen.print([eventLine(stats.elapsedSeconds, `configError from ${source} (the last good config stays): ${error.message}`)]);
  });
  return {
    stepStarted,
    /** Resolves once every split asked for is known. */
    settled: async (): Promise<void> => void (await Promise.all(pending)),
  };
}

/** The route's share per subset, in percent, as the mesh reports it: `{ v1: 90, v2: 10 }` (`{}` with no weighted route). */
async function splitInForce(mesh: Mesh): Promise<Record<string, number>> {
  const explanation = await mesh.explain(CANARY_URL);
  const split: Record<string, number> = {};
  if (explanation.action !== 'route') return split;
  for (const d of explanation.destinations) {
    const subset = d.destination.split('/')[1] ?? d.destination;
    split[subset] = (split[subset] ?? 0) + d.percent;
  }
  return split;
}

/** `v1 90 % · v2 10 %` */
function describe(split: CanaryWeights | Record<string, number>): string {
  const parts = Object.entries(split).map(([subset, percent]) => `${subset} ${Math.round(percent * 10) / 10} %`);
  return parts.length > 0 ? parts.join(' · ') : 'no weighted route';
}

/** `  +4.06 s  <text>` */
function eventLine(atSeconds: number, text: string): string {
  return `  +${atSeconds.toFixed(2)} s  ${text}`;
}

function intro(phase: CanaryPhase, v2: readonly Replica[], path: string): string[] {
  const splits = ROLLOUT.map((w) => `${w.v1}/${w.v2}`).join(' → ');
  const ids = (replicas: readonly Replica[]): string => replicas.map((r) => r.id).join(', ');
  return [
    `▶ canary from YAML: ${ROLLOUT.length} × ${phase.stepSeconds} s, v1/v2 split ${splits}`,
    `  v1: ${ids(phase.v1)} (not the slow one) · v2 (new): ${ids(v2)}`,
    `  config: ${path}`,
    `  A copy of examples/demo/${basename(CANARY_YAML)}. The mesh watches it; the demo rewrites`,
    `  its weights every ${phase.stepSeconds} s. Edit it too while this runs (it is deleted at the end).`,
  ];
}
