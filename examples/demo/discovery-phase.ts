// The demo's last phase: discovery from real registries instead of a static list.
//
// 1. DNS. A local dnsmasq serves SRV records for three of the replicas, with weights
//    1, 2 and 3 (and A records for their targets). The mesh finds `reviews` with
//    `dns({ servers, srv: true })` in namespace `demo`, that is, the SRV name
//    `_http._tcp.reviews.demo.svc.cluster.local`. Under a ROUND_ROBIN DestinationRule
//    the SRV weights become the split, exactly: 1/6, 2/6, 3/6.
// 2. etcd. A local etcd member; three replicas `register()` themselves under
//    `/services/reviews/<id>` (leases, labels), the mesh finds them with
//    `etcdDiscovery()`. Halfway through, one registration is closed: its key goes, the
//    mesh's watch drops the endpoint, its share goes to zero and no request fails.
//
// A part whose server is not installed prints how to install it and is skipped.
// Everything started here is stopped, and its temp directory removed, on the way out,
// Ctrl-C included.
import { setTimeout as sleep } from 'node:timers/promises';
import { createMesh, dns, type DnsSourceState, type Mesh, type ServiceSnapshot } from 'proxyless';
import { request } from 'undici';
import type { Replica } from './backends.js';
import { BALANCERS, SERVICE } from './balancers.js';
import { DiscoveryStats, type DiscoveryCounts } from './discovery-stats.js';
import { renderDns, renderEtcd } from './discovery-table.js';
import { runLoad } from './load.js';
import { findDnsmasq, startLocalDns, type LocalDns, type SrvRecord } from './local-dns.js';
import { ETCD_PATH, findEtcd, loadEtcdPackage, startLocalEtcd, type EtcdPackage, type LocalEtcd } from './local-etcd.js';
import { partFailed, waitWindow, whenUnavailable, type AnswerCount, type PartOutcome, type PhaseContext } from './phase-parts.js';
import type { Screen } from './screen.js';

/** The namespace of the DNS part's mesh: the service is `reviews.demo.svc.cluster.local`. */
const NAMESPACE = 'demo';
/** The SRV name `dns({ srv: true })` asks for `http://reviews/` in that namespace. */
const SRV_NAME = `_http._tcp.${SERVICE}.${NAMESPACE}.svc.cluster.local`;
/** SRV weights of the replicas, in order: the round robin split follows them. */
const SRV_WEIGHTS = [1, 2, 3];
/** TTL of dnsmasq's answers, in seconds: the mesh asks again about every second. */
const DNS_TTL = 1;
/** Where the replicas register in etcd: `/services/reviews/<id>`. */
const ETCD_PREFIX = '/services';
/** How many replicas each part uses (the first fast ones). */
const REPLICAS = 3;
/** The URL the callers request. */
const URL = `http://${SERVICE}/api/reviews`;
/** The DestinationRule of both parts: ROUND_ROBIN, which follows endpoint weights exactly. */
const ROUND_ROBIN = BALANCERS.find((b) => b.label === 'simple: ROUND_ROBIN')!.rule!;

/** What the discovery phase needs. */
export interface DiscoveryPhase extends PhaseContext {
  /** The fast replicas; the first three are used. */
  readonly replicas: readonly Replica[];
  /** How long each part sends traffic, in seconds. */
  readonly seconds: number;
}

export type { PartOutcome } from './phase-parts.js';

/** The DNS part as its table shows it. */
export interface DnsReport {
  readonly counts: DiscoveryCounts;
  /** dnsmasq's `127.0.0.1:<port>`. */
  readonly server: string;
  /** The service FQDN and balancer, as `mesh.services()` reports them. */
  readonly service: string;
  readonly balancer: string;
  /** Per replica: its SRV record and the weight the mesh gave its endpoint. */
  readonly rows: ReadonlyArray<{ readonly replica: Replica; readonly srvWeight: number; readonly meshWeight: number | undefined }>;
  /** The DNS source's state from `mesh.sources()`. */
  readonly source: DnsSourceState | undefined;
}

/** The etcd part as its table shows it. */
export interface EtcdReport {
  /** Periods: 0 before the registration was closed, 1 until the mesh dropped it, 2 after. */
  readonly counts: DiscoveryCounts;
  readonly clientUrl: string;
  readonly service: string;
  readonly balancer: string;
  /** Per registered replica: its key and labels. */
  readonly rows: ReadonlyArray<{ readonly replica: Replica; readonly key: string; readonly labels: Readonly<Record<string, string>> }>;
  /** The replica deregistered halfway (none when there is only one), and when (seconds since the traffic started). */
  readonly leaving: {
    readonly id: string | undefined;
    readonly closedAt: number | undefined;
    readonly droppedAt: number | undefined;
  };
  /** The etcd source's state from `mesh.sources()`. */
  readonly source: { readonly name: string; readonly ready: boolean; readonly services: number; readonly endpoints: number } | undefined;
}

/** What the whole phase did; a part is missing when Ctrl-C came before it. */
export interface DiscoveryReport {
  readonly dns: PartOutcome<DnsReport>;
  readonly etcd: PartOutcome<EtcdReport> | undefined;
}

/** Runs the DNS part, then the etcd part (each only when its server is installed). */
export async function runDiscovery(phase: DiscoveryPhase): Promise<DiscoveryReport> {
  const dnsOutcome = await runDnsPart(phase);
  const etcdOutcome = phase.interrupted.aborted ? undefined : await runEtcdPart(phase);
  return { dns: dnsOutcome, etcd: etcdOutcome };
}

async function runDnsPart(phase: DiscoveryPhase): Promise<PartOutcome<DnsReport>> {
  const { screen, interrupted } = phase;
  const binary = findDnsmasq();
  if (binary === undefined) {
    screen.print([
      '▶ discovery 1/2, DNS: skipped, dnsmasq is not installed. To see it: sudo apt-get install dnsmasq-base',
      '',
    ]);
    return { outcome: 'skipped', reason: 'dnsmasq is not installed' };
  }
  const replicas = phase.replicas.slice(0, REPLICAS);
  const records: SrvRecord[] = replicas.map((r, i) => ({
    name: SRV_NAME,
    priority: 0,
    weight: SRV_WEIGHTS[i]!,
    port: r.port,
    target: `${r.id}.${SERVICE}.${NAMESPACE}.svc.cluster.local`,
  }));
  let server: LocalDns | undefined;
  let mesh: Mesh | undefined;
  try {
    server = await startLocalDns(
      binary,
      { srv: records, a: records.map((r) => [r.target, '127.0.0.1'] as const), localDomains: ['cluster.local'], ttl: DNS_TTL },
      interrupted,
    );
    // What dnsmasq answers, asked as any resolver would (node:dns), before the mesh asks.
    const answer = (await server.resolveSrv(SRV_NAME)).sort((a, b) => a.weight - b.weight);
    screen.print([
      `▶ discovery 1/2, DNS: SRV records from a local dnsmasq, ${phase.seconds} s of traffic`,
      `  dnsmasq (pid ${server.pid}) on ${server.address}, files in ${server.dir}`,
      `  ${SRV_NAME} as dnsmasq answers it:`,
      ...answer.map((r) => `    SRV ${r.priority} ${r.weight} ${r.port} ${r.target}  → A 127.0.0.1`),
      `  createMesh({ namespace: '${NAMESPACE}', discovery: [dns({ servers: ['${server.address}'],`,
      `    srv: true })], config: [DestinationRule ${SERVICE}: ROUND_ROBIN] })`,
    ]);

    const source = dns({ servers: [server.address], srv: true });
    mesh = createMesh({ namespace: NAMESPACE, discovery: [source], config: [ROUND_ROBIN] });
    watchErrors(mesh, screen);
    const first = await firstRequest(mesh, replicas.length, interrupted);
    const weightOf = (replica: Replica): number | undefined => first?.endpoints.find((e) => e.key === replica.address)?.weight;
    screen.print([
      `  mesh.services(): ${first?.name ?? '?'}, ${first?.endpoints.length ?? 0} endpoints, ` +
        `weights ${replicas.map((r) => weightOf(r) ?? '?').join(', ')}`,
    ]);

    const stats = new DiscoveryStats(phase.seconds, replicas);
    const report = (state: DiscoveryCounts['state']): DnsReport => ({
      counts: stats.report(state),
      server: server!.address,
      service: first?.name ?? '?',
      balancer: mesh!.services()[0]?.balancer ?? '?',
      rows: replicas.map((replica, i) => ({ replica, srvWeight: SRV_WEIGHTS[i]!, meshWeight: weightOf(replica) })),
      source: mesh!.sources().find((s) => s.name === source.name) as DnsSourceState | undefined,
    });
    await withTraffic(mesh, stats, phase, () => (phase.screen.live ? renderDns(report('running'), phase.style) : undefined), async (answers) => {
      await waitWindow(phase.seconds, interrupted, answers, phase.minAnswers);
    });
    const final = report(interrupted.aborted ? 'interrupted' : 'done');
    screen.commit([...renderDns(final, phase.style), '']);
    return { outcome: 'ran', report: final };
  } catch (error) {
    return partFailed(error, 'DNS', phase);
  } finally {
    await mesh?.close();
    await server?.stop();
  }
}

async function runEtcdPart(phase: DiscoveryPhase): Promise<PartOutcome<EtcdReport>> {
  const { screen, interrupted } = phase;
  const binary = findEtcd();
  if (binary === undefined) {
    screen.print([
      `▶ discovery 2/2, etcd: skipped, ${ETCD_PATH} is not installed. To see it: sudo apt-get install etcd-server`,
      '',
    ]);
    return { outcome: 'skipped', reason: `${ETCD_PATH} is not installed` };
  }
  const replicas = phase.replicas.slice(0, REPLICAS);
  let server: LocalEtcd | undefined;
  let mesh: Mesh | undefined;
  let registrations: Array<InstanceType<EtcdPackage['Registration']>> = [];
  try {
    const etcd = await loadEtcdPackage();
    server = await startLocalEtcd(binary, interrupted);
    const endpoints = [server.clientUrl];
    registrations = replicas.map((replica) =>
      etcd.register({
        endpoints,
        prefix: ETCD_PREFIX,
        service: SERVICE,
        instanceId: replica.id,
        endpoint: { address: '127.0.0.1', port: replica.port, labels: { version: replica.version } },
      }),
    );
    for (const registration of registrations) {
      registration.on('error', (error: Error) => screen.print([`  registration error: ${error.message}`]));
    }
    await withDeadline(Promise.all(registrations.map((r) => r.ready())), 10_000, 'the registrations were not written to etcd', interrupted);
    // The last one deregisters halfway (unless it is the only one: requests would then wait for an endpoint).
    const leaving = replicas.length > 1 ? replicas.at(-1)! : undefined;
    screen.print([
      `▶ discovery 2/2, etcd: replicas register themselves, the mesh watches; ${phase.seconds} s of traffic`,
      `  etcd ${server.version} (pid ${server.pid}): 1 member, client URL ${server.clientUrl}`,
      `  data in ${server.dir}`,
      `  register({ endpoints, service: '${SERVICE}', instanceId, endpoint }) for ${replicas.length} replicas:`,
      ...registrations.map((r) => `    ${r.key}  ${r.endpoint.address}:${r.endpoint.port}  labels ${labelText(r.endpoint.labels)}`),
      `  createMesh({ discovery: [etcdDiscovery({ endpoints, prefix: '${ETCD_PREFIX}' })],`,
      `    config: [DestinationRule ${SERVICE}: ROUND_ROBIN] })`,
    ]);

    const source = etcd.etcdDiscovery({ endpoints, prefix: ETCD_PREFIX });
    mesh = createMesh({ discovery: [source], config: [ROUND_ROBIN] });
    watchErrors(mesh, screen);
    const first = await firstRequest(mesh, replicas.length, interrupted);
    screen.print([
      `  mesh.services(): ${first?.name ?? '?'}, ${first?.endpoints.length ?? 0} endpoints`,
      leaving
        ? `  Halfway, ${leaving.id} deregisters (registration.close()): its share goes to zero.`
        : '  (With one replica, none deregisters: DEMO_FAST_REPLICAS=2 or more to see that.)',
    ]);

    const stats = new DiscoveryStats(phase.seconds, replicas);
    const leavingState = { id: leaving?.id, closedAt: undefined as number | undefined, droppedAt: undefined as number | undefined };
    const report = (state: DiscoveryCounts['state']): EtcdReport => {
      const state_ = mesh!.sources().find((s) => s.name === source.name);
      return {
        counts: stats.report(state),
        clientUrl: server!.clientUrl,
        service: first?.name ?? '?',
        balancer: mesh!.services()[0]?.balancer ?? '?',
        rows: registrations.map((r, i) => ({ replica: replicas[i]!, key: r.key, labels: r.endpoint.labels })),
        leaving: { ...leavingState },
        source: state_ && { name: state_.name, ready: state_.ready, services: state_.services, endpoints: state_.endpoints },
      };
    };
    await withTraffic(mesh, stats, phase, () => (screen.live ? renderEtcd(report('running'), phase.style) : undefined), async (answers) => {
      if (!leaving) return void (await waitWindow(phase.seconds, interrupted, answers, phase.minAnswers));
      if (!(await waitWindow(phase.seconds / 2, interrupted, answers, phase.minAnswers))) return;
      // Deregister: revoke the lease, so etcd deletes the key and the mesh's watch hears it.
      const dropped = whenUnavailable(mesh!, leaving.address);
      const closedAt = stats.mark();
      leavingState.closedAt = stats.secondsAt(closedAt);
      const registration = registrations.at(-1)!;
      await registration.close();
      screen.print([
        eventLine(
          leavingState.closedAt,
          `${leaving.id}: registration.close(): lease revoked, key deleted (${Math.round(performance.now() - closedAt)} ms)`,
        ),
      ]);
      const giveUp = new AbortController();
      const droppedAt = await Promise.race([dropped.at, sleep(2000, undefined, { signal: giveUp.signal }).catch(() => undefined)]);
      giveUp.abort();
      dropped.stop();
      if (droppedAt !== undefined) {
        stats.mark(droppedAt);
        leavingState.droppedAt = stats.secondsAt(droppedAt);
        const left = mesh!.services()[0]?.endpoints.length ?? 0;
        screen.print([
          eventLine(
            leavingState.droppedAt,
            `${leaving.id}: the mesh's watch dropped it ${Math.round(droppedAt - closedAt)} ms after close(); ${left} endpoints left`,
          ),
        ]);
      } else {
        screen.print([eventLine(stats.elapsedSeconds, `the mesh still lists ${leaving.address} 2 s after close()`)]);
      }
      await waitWindow(phase.seconds - stats.elapsedSeconds, interrupted, answers, phase.minAnswers);
    });
    const final = report(interrupted.aborted ? 'interrupted' : 'done');
    screen.commit([...renderEtcd(final, phase.style), '']);
    return { outcome: 'ran', report: final };
  } catch (error) {
    return partFailed(error, 'etcd', phase);
  } finally {
    await mesh?.close();
    await Promise.all(registrations.map((r) => r.close()));
    await server?.stop();
  }
}

/**
 * Runs the callers through `mesh` while `during` runs (it decides how long), redrawing
 * the live table; resolves once every caller has finished its last request.
 */
async function withTraffic(
  mesh: Mesh,
  stats: DiscoveryStats,
  phase: DiscoveryPhase,
  render: () => string[] | undefined,
  during: (answers: AnswerCount) => Promise<void>,
): Promise<void> {
  const ticker = setInterval(() => {
    const lines = render();
    if (lines) phase.screen.update(lines);
  }, phase.tickMs);
  const stop = new AbortController();
  const answers = { answered: 0 };
  const load = runLoad({
    answers,
    dispatcher: mesh.dispatcher,
    url: URL,
    concurrency: phase.concurrency,
    distinctUsers: phase.distinctUsers,
    stats,
    signal: stop.signal,
  });
  try {
    await during(answers);
  } finally {
    stop.abort();
    await load;
    clearInterval(ticker);
    stats.end();
  }
}

/**
 * Sends one request and waits until the mesh lists `expected` endpoints (up to 3 s):
 * discovery answers before the measured traffic starts. Returns the service as
 * `mesh.services()` reports it.
 */
async function firstRequest(mesh: Mesh, expected: number, interrupted: AbortSignal): Promise<ServiceSnapshot | undefined> {
  const res = await request(URL, { dispatcher: mesh.dispatcher, signal: interrupted });
  await res.body.text();
  const deadline = performance.now() + 3000;
  for (;;) {
    const service = mesh.services()[0];
    if ((service && service.endpoints.length >= expected) || performance.now() > deadline) return service;
    await sleep(20, undefined, { signal: interrupted });
  }
}

/** Prints the mesh's discovery errors as they come (the source keeps its last good answer). */
function watchErrors(mesh: Mesh, screen: Screen): void {
  mesh.on('discoveryError', (error, source) => screen.print([`  discoveryError from ${source}: ${error.message}`]));
}

/** Rejects after `ms` with `message`, or at once on Ctrl-C. */
async function withDeadline<T>(promise: Promise<T>, ms: number, message: string, interrupted: AbortSignal): Promise<T> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  interrupted.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([
      promise,
      sleep(ms, undefined, { signal: stop.signal }).then(() => {
        throw new Error(`${message} within ${ms} ms`);
      }),
    ]);
  } finally {
    stop.abort();
    interrupted.removeEventListener('abort', onAbort);
    interrupted.throwIfAborted();
  }
}

function labelText(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** `  +1.50 s  <text>` */
function eventLine(atSeconds: number, text: string): string {
  return `  +${atSeconds.toFixed(2)} s  ${text}`;
}
