// The demo's resilience phase: the policies of resilience.yaml at work, against real
// servers that fail.
//
// 1. A replica killed. `ratings` has 4 replicas behind a DestinationRule with
//    `outlierDetection` (3 consecutive failures eject) and a VirtualService with
//    `retries` (2 attempts on 5xx, reset, connect-failure). Halfway through the traffic
//    one replica is killed: its server closed and every socket destroyed, requests in
//    flight included. The mesh ejects it (`mesh.services()` shows it unavailable) and
//    the requests that hit it are retried on another replica, so none fails.
// 2. A circuit breaker. `payments` has one replica, which answers 500 for 2 s. Its
//    breaker (the DestinationRule annotation `proxyless.dev/circuit-breaker`) opens,
//    refuses requests at once (CircuitOpenError, PROXYLESS_ERR_CIRCUIT_OPEN) instead of
//    sending them, lets a probe through after resetTimeout (1 s), and closes once two
//    probes in a row succeed. The mesh's circuitOpen / circuitHalfOpen / circuitClose
//    events print as they come.
//
// Everything started here is closed on the way out, Ctrl-C included.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createMesh, staticEndpoints, type CircuitEvent, type Mesh } from 'proxyless';
import { parseMeshYaml } from 'proxyless/config';
import { request, type Dispatcher } from 'undici';
import { startServiceReplicas, type Replica, type ReplicaTiming } from './backends.js';
import { partFailed, waitSeconds, waitWindow, whenUnavailable, type AnswerCount, type PartOutcome, type PhaseContext } from './phase-parts.js';
import { DiscoveryStats, type DiscoveryCounts } from './discovery-stats.js';
import { runLoad } from './load.js';
import { BreakerStats, type BreakerCounts } from './resilience-stats.js';
import { renderBreaker, renderKill } from './resilience-table.js';
import type { Screen } from './screen.js';

/** The phase's Istio config: DestinationRule and VirtualService `ratings`, DestinationRule `payments`. */
export const RESILIENCE_YAML = fileURLToPath(new URL('./resilience.yaml', import.meta.url));

/** The service of the kill part, its replica count, and which one is killed (`ratings-3`). */
export const KILL_SERVICE = 'ratings';
const KILL_REPLICAS = 4;
const VICTIM = 2;
/** The service of the breaker part (one replica). */
export const BREAKER_SERVICE = 'payments';
/** The breaker part's timeline: healthy, then 500s, then healthy again. */
export const LEAD_IN_MS = 500;
export const FAILING_MS = 2000;
/** Traffic goes on this long after the breaker closed, to show requests flowing again. */
const AFTER_CLOSE_MS = 1000;
/** The breaker part ends this long after the replica recovered, closed or not. */
const CLOSE_DEADLINE_MS = 3000;
/** A caller the breaker refused waits this long before its next request (it would show an error, not spin). */
export const REFUSED_PAUSE_MS = 10;
/** The longest the kill part waits for the ejection before saying it did not come. */
const EJECTION_DEADLINE_MS = 2000;

/** What the resilience phase needs. */
export interface ResiliencePhase extends PhaseContext {
  /** How long the kill part sends traffic, in seconds (the kill comes halfway). */
  readonly seconds: number;
  /** How fast the replicas answer. */
  readonly timing: ReplicaTiming;
}

/** The kill part as its table shows it. */
export interface KillReport {
  /** Periods: 0 before the kill, 1 until the mesh showed the replica unavailable, 2 after. */
  readonly counts: DiscoveryCounts;
  readonly service: string;
  readonly balancer: string;
  readonly replicas: readonly Replica[];
  readonly victim: {
    readonly id: string;
    /** Seconds since the traffic started; undefined until it happened. */
    readonly killedAt: number | undefined;
    readonly ejectedAt: number | undefined;
    /** Connections its server destroyed when killed. */
    readonly connections: number;
    /** Tries that failed on it, as `mesh.services()` counts them (each retried, or a failed request). */
    readonly failedTries: number;
  };
}

/** The breaker part as its table shows it. */
export interface BreakerReport {
  readonly counts: BreakerCounts;
  readonly service: string;
  /** The breaker events in order: `open`, `half-open`, `close`. */
  readonly events: readonly string[];
}

/** What the whole phase did; the breaker part is missing when Ctrl-C came before it. */
export interface ResilienceReport {
  readonly kill: PartOutcome<KillReport>;
  readonly breaker: PartOutcome<BreakerReport> | undefined;
}

/** Runs the kill part, then the breaker part. */
export async function runResilience(phase: ResiliencePhase): Promise<ResilienceReport> {
  const config = readConfig();
  const kill = await runKillPart(phase, config);
  const breaker = phase.interrupted.aborted ? undefined : await runBreakerPart(phase, config);
  return { kill, breaker };
}

async function runKillPart(phase: ResiliencePhase, config: ConfigText): Promise<PartOutcome<KillReport>> {
  const { screen, interrupted } = phase;
  let replicas: Replica[] = [];
  let mesh: Mesh | undefined;
  try {
    replicas = await startServiceReplicas(KILL_SERVICE, KILL_REPLICAS, phase.timing);
    const victim = replicas[VICTIM]!;
    screen.print([
      `▶ resilience 1/2, a replica killed: ${replicas.length} replicas of ${KILL_SERVICE}, ${phase.seconds} s of traffic`,
      `  createMesh({ config: '${config.path}' }):`,
      ...config.ratings,
      `  Halfway, ${victim.id} is killed (server closed, all its sockets destroyed mid-request).`,
      '  Outlier detection should eject it, and retries cover the requests it drops.',
    ]);
    mesh = createMesh({ discovery: [staticEndpoints({ [KILL_SERVICE]: replicas.map(endpoint) })], config: RESILIENCE_YAML });
    watchErrors(mesh, screen);
    const url = `http://${KILL_SERVICE}/api/ratings`;
    await (await request(url, { dispatcher: mesh.dispatcher, signal: interrupted })).body.text();

    const stats = new DiscoveryStats(phase.seconds, replicas);
    const victimState = { killedAt: undefined as number | undefined, ejectedAt: undefined as number | undefined, connections: 0 };
    const snapshot = () => mesh!.services().find((s) => s.name.startsWith(`${KILL_SERVICE}.`));
    const report = (state: DiscoveryCounts['state']): KillReport => {
      const service = snapshot();
      return {
        counts: stats.report(state),
        service: service?.name ?? '?',
        balancer: service?.balancer ?? '?',
        replicas,
        victim: {
          id: victim.id,
          ...victimState,
          failedTries: service?.endpoints.find((e) => e.key === victim.address)?.failures ?? 0,
        },
      };
    };

    const ticker = setInterval(() => {
      if (screen.live) screen.update(renderKill(report('running'), phase.style));
    }, phase.tickMs);
    const stop = new AbortController();
    const answers = { answered: 0 };
    const load = runLoad({ dispatcher: mesh.dispatcher, url, concurrency: phase.concurrency, distinctUsers: phase.distinctUsers, stats, signal: stop.signal, answers });
    try {
      if (await waitWindow(phase.seconds / 2, interrupted, answers, phase.minAnswers)) {
        const unavailable = whenUnavailable(mesh, victim.address);
        const killedAt = stats.mark();
        victimState.killedAt = stats.secondsAt(killedAt);
        victimState.connections = await victim.close();
        screen.print([
          eventLine(victimState.killedAt, `${victim.id} killed: server closed, ${victimState.connections} open connections destroyed`),
        ]);
        const ejectedAt = await within(unavailable.at, EJECTION_DEADLINE_MS, interrupted);
        unavailable.stop();
        if (ejectedAt !== undefined) {
          stats.mark(ejectedAt);
          victimState.ejectedAt = stats.secondsAt(ejectedAt);
          screen.print([
            eventLine(victimState.ejectedAt, `${victim.id} ejected: mesh.services() shows it unavailable, ${Math.round(ejectedAt - killedAt)} ms after the kill`),
          ]);
        } else {
          screen.print([eventLine(stats.elapsedSeconds, `${victim.id} is still available in mesh.services() ${EJECTION_DEADLINE_MS / 1000} s after the kill`)]);
        }
        await waitWindow(phase.seconds - stats.elapsedSeconds, interrupted, answers, phase.minAnswers);
      }
    } finally {
      stop.abort();
      await load;
      clearInterval(ticker);
      stats.end();
    }
    const final = report(interrupted.aborted ? 'interrupted' : 'done');
    screen.commit([...renderKill(final, phase.style), '']);
    return { outcome: 'ran', report: final };
  } catch (error) {
    return partFailed(error, 'kill', phase);
  } finally {
    await mesh?.close();
    await Promise.all(replicas.map((r) => r.close()));
  }
}

async function runBreakerPart(phase: ResiliencePhase, config: ConfigText): Promise<PartOutcome<BreakerReport>> {
  const { screen, interrupted } = phase;
  let failing = false;
  let replicas: Replica[] = [];
  let mesh: Mesh | undefined;
  try {
    replicas = await startServiceReplicas(BREAKER_SERVICE, 1, phase.timing, () => (failing ? 500 : 200));
    const replica = replicas[0]!;
    const from = (LEAD_IN_MS / 1000).toFixed(1);
    const to = ((LEAD_IN_MS + FAILING_MS) / 1000).toFixed(1);
    screen.print([
      `▶ resilience 2/2, a circuit breaker: ${replica.id} answers 500 from +${from} s to +${to} s`,
      `  createMesh({ config: '${config.path}' }):`,
      ...config.payments,
      `  ${phase.concurrency} callers; one refused by the breaker waits ${REFUSED_PAUSE_MS} ms, then sends again.`,
    ]);
    mesh = createMesh({ discovery: [staticEndpoints({ [BREAKER_SERVICE]: [endpoint(replica)] })], config: RESILIENCE_YAML });
    watchErrors(mesh, screen);
    const url = `http://${BREAKER_SERVICE}/api/pay`;
    await (await request(url, { dispatcher: mesh.dispatcher, signal: interrupted })).body.text();

    const planned = (LEAD_IN_MS + FAILING_MS + CLOSE_DEADLINE_MS) / 1000;
    const stats = new BreakerStats(planned, 'closed', false);
    const events: string[] = [];
    const line = (text: string, at = stats.elapsedSeconds): void => screen.print([eventLine(at, text)]);
    const inSeconds = (epochMs: number | undefined): string =>
      epochMs === undefined ? '?' : `+${(stats.elapsedSeconds + (epochMs - Date.now()) / 1000).toFixed(2)} s`;
    let onClose = (): void => {};
    const closed = new Promise<void>((resolve) => (onClose = resolve));
    mesh.on('circuitOpen', (event: CircuitEvent) => {
      const probeFailed = stats.current.breaker === 'half-open';
      stats.startPeriod('circuitOpen', { breaker: 'open' });
      events.push('open');
      const window = mesh!.circuitBreakers()[event.service]?.stats;
      const why = probeFailed
        ? 'a probe got 500, open again'
        : `${count(window?.failures ?? 0)} of ${count(window?.fires ?? 0)} requests in its window failed`;
      line(`circuitOpen: ${why}; probe at ${inSeconds(event.retryAt)}`);
    });
    mesh.on('circuitHalfOpen', () => {
      stats.startPeriod('circuitHalfOpen', { breaker: 'half-open' });
      events.push('half-open');
      line('circuitHalfOpen: one probe at a time, 2 successes in a row close it');
    });
    mesh.on('circuitClose', () => {
      stats.startPeriod('circuitClose', { breaker: 'closed' });
      events.push('close');
      line('circuitClose: 2 probes in a row succeeded, requests flow again');
      onClose();
    });
    const report = (state: BreakerCounts['state']): BreakerReport => ({
      counts: stats.report(state),
      service: mesh!.services()[0]?.name ?? BREAKER_SERVICE,
      events: [...events],
    });

    line(`traffic starts; ${replica.id} answers 200`);
    const ticker = setInterval(() => {
      if (screen.live) screen.update(renderBreaker(report('running'), phase.style));
    }, phase.tickMs);
    const stop = new AbortController();
    const answers = { answered: 0 };
    const load = runBreakerLoad(mesh.dispatcher, url, phase.concurrency, stats, stop.signal, answers);
    try {
      await (async () => {
        if (!(await waitSeconds(LEAD_IN_MS / 1000, interrupted))) return;
        failing = true;
        stats.startPeriod('fails', { failing: true });
        line(`${replica.id} starts answering 500 (for ${FAILING_MS / 1000} s)`);
        if (!(await waitSeconds(FAILING_MS / 1000, interrupted))) return;
        failing = false;
        stats.startPeriod('recovers', { failing: false });
        line(`${replica.id} recovers: answers 200 again`);
        // The breaker's next probes succeed and it closes; then a moment of traffic flowing again.
        const closedInTime = await within(closed.then(() => true), CLOSE_DEADLINE_MS, interrupted);
        if (closedInTime) await waitWindow(AFTER_CLOSE_MS / 1000, interrupted, answers, phase.minAnswers);
        else if (!interrupted.aborted) line(`the breaker is still ${stats.current.breaker} ${CLOSE_DEADLINE_MS / 1000} s after the recovery`);
      })();
    } finally {
      stop.abort();
      await load;
      clearInterval(ticker);
      stats.end();
    }
    const final = report(interrupted.aborted ? 'interrupted' : 'done');
    screen.commit([...renderBreaker(final, phase.style), '']);
    return { outcome: 'ran', report: final };
  } catch (error) {
    return partFailed(error, 'breaker', phase);
  } finally {
    await mesh?.close();
    await Promise.all(replicas.map((r) => r.close()));
  }
}

/**
 * The breaker part's callers: like load.ts, one request at a time each, but a 500 is
 * an answer (counted, no pause: the breaker must see them at the rate they come) and a
 * refusal by the breaker is counted apart, followed by a short pause.
 */
async function runBreakerLoad(dispatcher: Dispatcher, url: string, concurrency: number, stats: BreakerStats, signal: AbortSignal, answers: AnswerCount): Promise<void> {
  const worker = async (): Promise<void> => {
    while (!signal.aborted) {
      const sentAt = performance.now();
      try {
        const res = await request(url, { dispatcher });
        await res.body.text();
        stats.answered(res.statusCode, sentAt, performance.now() - sentAt);
        answers.answered++;
      } catch (error) {
        if ((error as { code?: unknown }).code === 'PROXYLESS_ERR_CIRCUIT_OPEN') {
          stats.refused(sentAt, performance.now() - sentAt);
          await sleep(REFUSED_PAUSE_MS);
        } else {
          stats.failed(error, sentAt);
          await sleep(50);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** resilience.yaml, as the phase prints it: its path and the lines describing each service's policies. */
interface ConfigText {
  readonly path: string;
  readonly ratings: string[];
  readonly payments: string[];
}

/** Reads resilience.yaml and describes what it sets, so the printed config is the file's. */
function readConfig(): ConfigText {
  const resources = parseMeshYaml(readFileSync(RESILIENCE_YAML, 'utf8'), RESILIENCE_YAML) as Array<{
    kind: string;
    metadata: { name: string; annotations?: Record<string, string> };
    spec: Record<string, unknown>;
  }>;
  const find = (kind: string, name: string) => resources.find((r) => r.kind === kind && r.metadata.name === name);
  const rule = find('DestinationRule', KILL_SERVICE)?.spec.trafficPolicy as Record<string, unknown> | undefined;
  const route = (find('VirtualService', KILL_SERVICE)?.spec.http as Array<Record<string, unknown>> | undefined)?.[0];
  const annotation = find('DestinationRule', BREAKER_SERVICE)?.metadata.annotations?.['proxyless.dev/circuit-breaker'];
  return {
    path: relative(process.cwd(), RESILIENCE_YAML) || RESILIENCE_YAML,
    ratings: [
      ...wrap(`    DestinationRule ${KILL_SERVICE}: loadBalancer ${flow(rule?.loadBalancer)}, outlierDetection ${flow(rule?.outlierDetection)}`),
      ...wrap(`    VirtualService ${KILL_SERVICE}: retries ${flow(route?.retries)}`),
    ],
    payments: wrap(`    DestinationRule ${BREAKER_SERVICE}: annotation proxyless.dev/circuit-breaker ${annotation === undefined ? '-' : flow(JSON.parse(annotation))}`),
  };
}

/** A value in YAML flow style, on one line: `{ attempts: 2, retryOn: 5xx,reset }`. */
function flow(value: unknown): string {
  if (value === undefined) return '-';
  if (value === null || typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(flow).join(', ')}]`;
  return `{ ${Object.entries(value).map(([k, v]) => `${k}: ${flow(v)}`).join(', ')} }`;
}

/** Breaks a long line to fit about 80 columns, after a comma where it can, continuing indented. */
function wrap(text: string, width = 80): string[] {
  const lines: string[] = [];
  const indent = `${/^ */.exec(text)![0]}  `;
  let rest = text;
  while (rest.length > width) {
    let cut = rest.lastIndexOf(', ', width - 1) + 1; // keep the comma
    if (cut <= indent.length) cut = rest.lastIndexOf(' ', width);
    if (cut <= indent.length) break;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = indent + rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

/** A replica as discovery reports it. */
function endpoint(replica: Replica): { address: string; port: number; labels: Record<string, string> } {
  return { address: '127.0.0.1', port: replica.port, labels: { replica: replica.id, version: replica.version } };
}

/** Prints the mesh's config errors as they come (the last good config stays). */
function watchErrors(mesh: Mesh, screen: Screen): void {
  mesh.on('configError', (error, source) => screen.print([`  configError from ${source}: ${error.message}`]));
}

/** `promise`'s value, or undefined after `ms` or at once on Ctrl-C (no timer is left behind). */
async function within<T>(promise: Promise<T>, ms: number, interrupted: AbortSignal): Promise<T | undefined> {
  const giveUp = new AbortController();
  const stopWaiting = (): void => giveUp.abort();
  interrupted.addEventListener('abort', stopWaiting, { once: true });
  try {
    return await Promise.race([promise, sleep(ms, undefined, { signal: giveUp.signal }).catch(() => undefined)]);
  } finally {
    giveUp.abort();
    interrupted.removeEventListener('abort', stopWaiting);
  }
}

function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** `  +1.50 s  <text>` */
function eventLine(atSeconds: number, text: string): string {
  return `  +${atSeconds.toFixed(2)} s  ${text}`;
}
