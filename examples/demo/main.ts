// proxyless demo: the same traffic through each load balancer in turn, then a canary
// rolled out by editing YAML, then resilience (a replica killed, a circuit breaker),
// then discovery from a real DNS server and from etcd.
//
// One logical service, `reviews`, has a few fast replicas and one slow one (real HTTP
// servers on 127.0.0.1). A fixed number of callers send requests to http://reviews/
// through the mesh; only the DestinationRule changes between phases. Watch where the
// requests go and what that does to latency: balancers that ignore latency keep
// feeding the slow replica; the default (P2C over Peak EWMA) learns to avoid it.
// Next, two `version: v2` replicas join and a watched YAML file (canary.yaml) shifts
// the traffic to them, 90/10 → 50/50 → 0/100, without a failed request (canary.ts).
// Next, resilience (resilience-phase.ts, config in resilience.yaml): a replica is killed
// under traffic, outlier detection ejects it and retries hide it; then a replica answers
// 500 for 2 s and its circuit breaker opens, probes and closes.
// Then the mesh finds the replicas in a local dnsmasq's SRV records (the split follows
// their weights) and in a local etcd where they register themselves; one deregisters
// and its traffic stops (discovery-phase.ts). Each of those runs only when its server
// is installed (Debian: dnsmasq-base, etcd-server); otherwise it says how to get it.
// Last, the server side (drain-phase.ts): the replicas are Fastify and Express services
// wired with @proxyless/fastify and @proxyless/express; a traced request's spans print as
// a tree joined across two hops (caller → orders → inventory, the second hop mTLS with
// SVIDs from a dev CA in a temp directory), the client mesh's admin dashboard URL is
// printed, and a replica drains (mesh.drain()) under traffic with no failed request.
//
// On a terminal (or with --keep) it then keeps running (keep-phase.ts): the replicas, a
// mesh and its admin server stay up with light traffic, so the dashboard can be opened;
// Ctrl-C stops it cleanly. Off a terminal (CI, the tests) it ends after the phases.
//
//   npm run demo                               # under a minute, then kept running; Ctrl-C stops
//   npm run demo -- --keep | tee demo.log      # kept running off a terminal too
//   DEMO_SECONDS_PER_BALANCER=2 npm run demo
//
// Environment: DEMO_SECONDS_PER_BALANCER (5), DEMO_SECONDS_PER_CANARY_STEP (3.5, or
// DEMO_SECONDS_PER_BALANCER if shorter), DEMO_SECONDS_PER_KILL (3, or
// DEMO_SECONDS_PER_BALANCER if shorter; the breaker part keeps its own timeline, about
// 4 s), DEMO_SECONDS_PER_DISCOVERY (3, or DEMO_SECONDS_PER_BALANCER if shorter),
// DEMO_CONCURRENCY (16), DEMO_FAST_REPLICAS (4),
// DEMO_SLOW_EXTRA_MS (50), DEMO_USERS (300: distinct values of the hashed header),
// DNSMASQ_BIN and ETCD_BIN (where dnsmasq and etcd are, default dnsmasq on PATH or in
// /usr/sbin, and /usr/bin/etcd), NO_COLOR, DEMO_PROGRESS (off a terminal, a line once each
// traffic run has 100 answers; the tests use it).
import { setTimeout as sleep } from 'node:timers/promises';
import { createMesh, staticEndpoints, type DestinationRule, type Mesh } from 'proxyless';
import { DemoAdmin } from './admin.js';
import { startReplicas, type Replica } from './backends.js';
import { BALANCERS, SERVICE, type BalancerChoice } from './balancers.js';
import { runCanary } from './canary.js';
import { ROLLOUT } from './canary-config.js';
import type { CanaryReport } from './canary-stats.js';
import { runDiscovery, type DiscoveryReport } from './discovery-phase.js';
import { discoverySummary } from './discovery-table.js';
import { runLoad } from './load.js';
import { waitWindow, type PhaseContext } from './phase-parts.js';
import { Screen } from './screen.js';
import { runResilience, type ResilienceReport } from './resilience-phase.js';
import { resilienceSummary } from './resilience-table.js';
import { drainSummary, runDrain, type DrainReport } from './drain-phase.js';
import type { PartOutcome } from './phase-parts.js';
import { PhaseStats, type PhaseReport } from './stats.js';
import { keepRequested, keepRunning, type KeepReport } from './keep-phase.js';
import { columnNotes, renderPhase, renderSummary, type Style } from './table.js';

/** The demo's settings, from the environment. */
interface DemoOptions {
  secondsPerBalancer: number;
  secondsPerCanaryStep: number;
  secondsPerKill: number;
  secondsPerDiscovery: number;
  concurrency: number;
  fastReplicas: number;
  slowExtraMs: number;
  distinctUsers: number;
  /** The fewest answers each measured window waits for (DEMO_MIN_ANSWERS; 0: its seconds only). */
  minAnswers: number;
}

/** Every replica answers in BASE_MS plus up to JITTER_MS; the slow one later still. */
const BASE_MS = 2;
const JITTER_MS = 3;
/** How often the live table is redrawn and the mesh's load is sampled (4 times a second). */
const TICK_MS = 250;
/** Unmeasured traffic before the first phase, so it does not pay for JIT and new connections. */
const WARM_UP_MS = 500;
/** How long after Ctrl-C the demo stays up at least, for the signal's forwarded copies. */
const SIGINT_LINGER_MS = 300;

/** What every phase shares. */
interface Context {
  readonly options: DemoOptions;
  readonly replicas: readonly Replica[];
  readonly screen: Screen;
  readonly style: Style;
  /** Aborted on Ctrl-C. */
  readonly interrupted: AbortSignal;
  /** Each phase's mesh serves the dashboard on this admin port. */
  readonly admin: DemoAdmin;
}

async function main(): Promise<void> {
  const options = readOptions(process.env);
  const screen = new Screen(process.stdout, process.env);
  const style: Style = { color: screen.color };

  // First Ctrl-C (or SIGTERM): stop the traffic, clean up (the replicas, dnsmasq, etcd,
  // temp files), print what we have, exit 0.
  // Another one a second or more later: give up at once. One key press often arrives
  // more than once within milliseconds (the terminal signals every process in the
  // group, and `npm run` and tsx forward it to their child as well): those are ignored.
  const interrupt = new AbortController();
  let firstSigintAt = 0;
  const onSigint = (): void => {
    if (!interrupt.signal.aborted) {
      firstSigintAt = performance.now();
      return interrupt.abort();
    }
    if (performance.now() - firstSigintAt < 1000) return;
    screen.restore();
    process.exit(130);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);

  let replicas: Replica[] = [];
  const reports: PhaseReport[] = [];
  let canary: CanaryReport | undefined;
  let resilience: ResilienceReport | undefined;
  let discovery: DiscoveryReport | undefined;
  let drain: PartOutcome<DrainReport> | undefined;
  let admin: DemoAdmin | undefined;
  let phasesDone = false;
  try {
    replicas = await startReplicas({
      fast: options.fastReplicas,
      slow: 1,
      baseMs: BASE_MS,
      jitterMs: JITTER_MS,
      slowExtraMs: options.slowExtraMs,
    });
    admin = await DemoAdmin.start(process.env);
    const context: Context = { options, replicas, screen, style, interrupted: interrupt.signal, admin };
    const phaseContext: PhaseContext = {
      concurrency: options.concurrency,
      distinctUsers: options.distinctUsers,
      tickMs: TICK_MS,
      screen,
      style,
      interrupted: interrupt.signal,
      minAnswers: options.minAnswers,
    };
    const timing = { baseMs: BASE_MS, jitterMs: JITTER_MS, slowExtraMs: options.slowExtraMs };
    screen.print(intro(options, replicas));
    const kept = keepRequested(process.argv.slice(2), process.stdout.isTTY === true) ? '; after the phases it keeps running with light traffic until Ctrl-C' : '; run with --keep to keep it up after the phases';
    screen.print([`dashboard: ${admin.dashboardUrl} (live while the balancer and canary phases run${kept}; also proxyless top --admin http://127.0.0.1:${admin.port})`, '']);
    await warmUp(context);
    for (const [index, choice] of BALANCERS.entries()) {
      if (interrupt.signal.aborted) break;
      reports.push(await runPhase(choice, index, context));
    }
    if (!interrupt.signal.aborted) {
      canary = await runCanary({
        v1: replicas.filter((r) => !r.slow),
        timing,
        stepSeconds: options.secondsPerCanaryStep,
        admin,
        ...phaseContext,
      });
    }
    if (!interrupt.signal.aborted) {
      resilience = await runResilience({
        seconds: options.secondsPerKill,
        timing,
        ...phaseContext,
      });
    }
    if (!interrupt.signal.aborted) {
      discovery = await runDiscovery({
        replicas: replicas.filter((r) => !r.slow),
        seconds: options.secondsPerDiscovery,
        ...phaseContext,
      });
    }
    if (!interrupt.signal.aborted) {
      drain = await runDrain({ seconds: options.secondsPerDiscovery, ...phaseContext });
    }
    phasesDone = true;
  } finally {
    const headline =
      `${options.fastReplicas} fast replicas (${BASE_MS}–${BASE_MS + JITTER_MS} ms), 1 slow (+${options.slowExtraMs} ms), ` +
      `${options.concurrency} callers, ${options.secondsPerBalancer} s each`;
    screen.print([
      ...renderSummary(reports, headline, style, canary),
      ...(resilience ? resilienceSummary(resilience) : []),
      ...(discovery ? discoverySummary(discovery) : []),
      ...(drain ? drainSummary(drain) : []),
    ]);
    let kept: KeepReport | undefined;
    try {
      if (phasesDone && admin !== undefined && !interrupt.signal.aborted && keepRequested(process.argv.slice(2), process.stdout.isTTY === true)) {
        screen.print(['']);
        kept = await keepRunning({ mesh: meshFor(replicas, undefined), admin, screen, interrupted: interrupt.signal });
      }
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
    screen.print([
      ...(kept ? [`  kept running: ${kept.seconds.toFixed(1)} s, ${kept.failed} failed of ${kept.requests} requests`] : []),
      `Total: ${(performance.now() / 1000).toFixed(1)} s`,
    ]);
    screen.restore();
    // After Ctrl-C, stay up until the forwarded copies of the signal have come: tsx
    // forwards it when its child has not acknowledged it within 30 ms, and exits with
    // 130 if the child is gone before acknowledging the copy. The SIGINT handler stays
    // installed until the process exits (it does not keep it alive), for the same reason.
    if (interrupt.signal.aborted) await sleep(Math.max(0, firstSigintAt + SIGINT_LINGER_MS - performance.now()));
  }
}

/**
 * One phase: a fresh mesh whose only difference is the DestinationRule, traffic for the
 * planned time (or until Ctrl-C), then the mesh is closed. A fresh mesh per phase means
 * no balancer inherits what the previous one learnt about the replicas.
 */
async function runPhase(choice: BalancerChoice, index: number, context: Context): Promise<PhaseReport> {
  const { options, replicas, screen, style, interrupted } = context;
  const mesh = meshFor(replicas, choice.rule);
  await context.admin.attach(mesh);
  const stats = new PhaseStats(choice.label, options.secondsPerBalancer, replicas);
  if (!screen.live) screen.print([`▶ ${index + 1}/${BALANCERS.length} ${choice.label}: ${options.secondsPerBalancer} s of traffic…`]);

  const ticker = setInterval(() => {
    stats.sample(mesh.services());
    if (screen.live) screen.update(renderPhase(stats.report('running'), style));
  }, TICK_MS);
  await sendTraffic(mesh, stats, options.secondsPerBalancer * 1000, context, options.minAnswers);
  clearInterval(ticker);

  stats.end();
  stats.balancer = mesh.services()[0]?.balancer ?? stats.balancer;
  const report = stats.report(interrupted.aborted ? 'interrupted' : 'done');
  screen.commit([...renderPhase(report, style), '']);
  await mesh.close();
  return report;
}

/** Sends unmeasured traffic to every replica for a moment (the numbers are dropped). */
async function warmUp(context: Context): Promise<void> {
  const mesh = meshFor(context.replicas, BALANCERS[0]!.rule); // round robin: every replica warms up
  await sendTraffic(mesh, new PhaseStats('warm-up', 0, context.replicas), WARM_UP_MS, context, 0);
  await mesh.close();
}

/**
 * Runs the callers for `ms` and until `minAnswers` requests were answered (or until
 * Ctrl-C); resolves once each has finished its last request.
 */
async function sendTraffic(mesh: Mesh, stats: PhaseStats, ms: number, context: Context, minAnswers: number): Promise<void> {
  const stop = new AbortController();
  const answers = { answered: 0 };
  const load = runLoad({
    answers,
    dispatcher: mesh.dispatcher,
    url: `http://${SERVICE}/api/reviews`,
    concurrency: context.options.concurrency,
    distinctUsers: context.options.distinctUsers,
    stats,
    signal: stop.signal,
  });
  // Ctrl-C ends the phase early.
  await waitWindow(ms / 1000, context.interrupted, answers, minAnswers);
  stop.abort();
  await load;
}

/** A mesh that knows the replicas as service `reviews`, with `rule` (or none) for it. */
function meshFor(replicas: readonly Replica[], rule: DestinationRule | undefined): Mesh {
  const endpoints = replicas.map((r) => ({ address: '127.0.0.1', port: r.port, labels: { replica: r.id, version: r.version } }));
  return createMesh({
    discovery: [staticEndpoints({ [SERVICE]: endpoints })],
    config: rule ? [rule] : [],
  });
}

function intro(options: DemoOptions, replicas: readonly Replica[]): string[] {
  const lines = [`proxyless demo: service "${SERVICE}", ${replicas.length} replicas (HTTP servers in this process)`];
  for (const r of replicas) {
    const low = BASE_MS + (r.slow ? options.slowExtraMs : 0);
    lines.push(`  ${r.id.padEnd(9)}${r.address.padEnd(17)}answers in ${low}–${low + JITTER_MS} ms${r.slow ? '  ◀ the slow one' : ''}`);
  }
  lines.push(
    `${options.concurrency} callers send requests to http://${SERVICE}/ through the mesh,`,
    `${options.secondsPerBalancer} s per balancer, after a ${WARM_UP_MS} ms warm-up; then a canary driven by`,
    `a YAML file (${ROLLOUT.length} × ${options.secondsPerCanaryStep} s); then resilience: a replica killed (${options.secondsPerKill} s)`,
    `and a circuit breaker (about 4 s); then discovery from DNS SRV records (dnsmasq)`,
    `and from etcd (${options.secondsPerDiscovery} s each). Ctrl-C stops early.`,
    ...columnNotes({ color: false }),
    '',
  );
  return lines;
}

/** Reads the DEMO_* variables; a bad value ends the demo with a message naming it. */
function readOptions(env: NodeJS.ProcessEnv): DemoOptions {
  const secondsPerBalancer = numberFrom(env, 'DEMO_SECONDS_PER_BALANCER', 5, { min: 0.1, max: 3600 });
  return {
    secondsPerBalancer,
    secondsPerCanaryStep: numberFrom(env, 'DEMO_SECONDS_PER_CANARY_STEP', Math.min(3.5, secondsPerBalancer), { min: 0.1, max: 3600 }),
    secondsPerKill: numberFrom(env, 'DEMO_SECONDS_PER_KILL', Math.min(3, secondsPerBalancer), { min: 0.1, max: 3600 }),
    secondsPerDiscovery: numberFrom(env, 'DEMO_SECONDS_PER_DISCOVERY', Math.min(3, secondsPerBalancer), { min: 0.1, max: 3600 }),
    concurrency: numberFrom(env, 'DEMO_CONCURRENCY', 16, { min: 1, max: 1000, integer: true }),
    fastReplicas: numberFrom(env, 'DEMO_FAST_REPLICAS', 4, { min: 1, max: 50, integer: true }),
    slowExtraMs: numberFrom(env, 'DEMO_SLOW_EXTRA_MS', 50, { min: 0, max: 10_000 }),
    distinctUsers: numberFrom(env, 'DEMO_USERS', 300, { min: 1, max: 1_000_000, integer: true }),
    minAnswers: numberFrom(env, 'DEMO_MIN_ANSWERS', 0, { min: 0, max: 1_000_000, integer: true }),
  };
}

/** A bad DEMO_* value: reported in one line, exit code 2. */
class OptionError extends Error {}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, range: { min: number; max: number; integer?: boolean }): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < range.min || value > range.max || (range.integer && !Number.isInteger(value))) {
    throw new OptionError(`${name}=${raw} (expected: ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max})`);
  }
  return value;
}

main().catch((error: unknown) => {
  console.error(error instanceof OptionError ? `demo: ${error.message}` : error);
  process.exitCode = error instanceof OptionError ? 2 : 1;
});
