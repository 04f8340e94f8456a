import type { AdminEndpoint, MeshAdminView } from './mesh-view.js';
import { cluster, type Cluster } from './clusters.js';
import type { AdminEvent, EventLog } from './events.js';
import { routesDump } from './config-dump.js';
import { serviceKey, type Sampler } from './sampler.js';

/** Services a frame carries at most (the rest are counted); the dashboard stays light with many. */
export const FRAME_SERVICES = 200;
/** Endpoints a frame carries per service: the unavailable ones first, then the busiest. */
export const FRAME_ENDPOINTS = 12;
/** Route splits, events and warnings a frame carries at most. */
const FRAME_ROUTES = 100;
const FRAME_EVENTS = 40;
const FRAME_WARNINGS = 20;

/** A service's sparklines in a dashboard frame: one value a tick, oldest first. */
export interface FrameHistory {
  /** Requests a second. */
  readonly rate: readonly number[];
  /** Median latency (ms), null without answers. */
  readonly p50: readonly (number | null)[];
  /** 99th percentile latency (ms), null without answers. */
  readonly p99: readonly (number | null)[];
}

/** One service in a dashboard frame: its cluster snapshot (a page of endpoints) and its sparklines. */
export interface FrameService extends Cluster {
  /** Its sparklines. */
  readonly history: FrameHistory;
}

/** The whole mesh in a dashboard frame. */
export interface FrameTotals {
  /** Services built. */
  readonly services: number;
  /** Their endpoints. */
  readonly endpoints: number;
  /** Endpoints balancers may pick. */
  readonly available: number;
  /** Endpoints ejected. */
  readonly ejected: number;
  /** Requests in flight. */
  readonly inFlight: number;
  /** Requests a second over the last tick. */
  readonly rate: number;
}

/** A route's weighted split in a dashboard frame. */
export interface FrameSplit {
  /** The host the VirtualService binds. */
  readonly host: string;
  /** The route's name. */
  readonly route: string;
  /** Its destinations and their shares. */
  readonly destinations: ReadonlyArray<{
    /** `host[:port]/subset`. */
    readonly destination: string;
    /** Share of the route's requests, in percent. */
    readonly percent: number;
  }>;
}

/** What the dashboard's event stream sends each tick (and `/dashboard/frame` answers). */
export interface DashboardFrame {
  /** When it was taken (epoch ms). */
  readonly at: number;
  /** The sampler's tick number. */
  readonly tick: number;
  /** The whole mesh. */
  readonly totals: FrameTotals;
  /** Total requests a second, one a tick. */
  readonly rateHistory: readonly number[];
  /** The services (at most 200), sorted by key. */
  readonly services: readonly FrameService[];
  /** Services not in `services` (past 200). */
  readonly moreServices: number;
  /** The weighted splits of every route with destinations: a canary moving shows here. */
  readonly splits: readonly FrameSplit[];
  /** Recent events, oldest first. */
  readonly events: readonly AdminEvent[];
  /** The config's first warnings. */
  readonly warnings: readonly string[];
  /** How many warnings the config has. */
  readonly warningCount: number;
}

/** The endpoints worth showing first: not available, then the most requests a second. */
function interesting(sampler: Sampler): (list: readonly AdminEndpoint[]) => readonly AdminEndpoint[] {
  return (list) => {
    if (list.length <= FRAME_ENDPOINTS) return list;
    const scored = list.map((e) => ({ e, score: (e.available ? 0 : 1e12) + e.pending * 1e6 + sampler.endpoint(e, undefined).rate }));
    scored.sort((a, b) => b.score - a.score);
    return scored.slice(0, FRAME_ENDPOINTS).map((s) => s.e);
  };
}

const nullable = (list: readonly number[]): (number | null)[] => list.map((v) => (Number.isNaN(v) ? null : v));

/** Builds one frame from the sampler's last tick (built once, sent to every stream). */
export function dashboardFrame(view: MeshAdminView, sampler: Sampler, events: EventLog): DashboardFrame {
  const all = [...view.services()].sort((a, b) => (serviceKey(a) < serviceKey(b) ? -1 : 1));
  const pick = interesting(sampler);
  const services: FrameService[] = [];
  let endpoints = 0;
  let available = 0;
  let ejected = 0;
  let inFlight = 0;
  for (const service of all) {
    inFlight += service.inFlight;
    if (services.length >= FRAME_SERVICES) {
      for (const e of service.endpoints()) {
        endpoints++;
        if (e.available) available++;
        if (e.ejected) ejected++;
      }
      continue;
    }
    const key = serviceKey(service);
    const c = cluster(service, key, sampler, 0, FRAME_ENDPOINTS, pick);
    endpoints += c.counts.endpoints;
    available += c.counts.available;
    ejected += c.counts.ejected;
    const s = sampler.service(key);
    services.push({ ...c, history: { rate: s?.rate ?? [], p50: nullable(s?.p50 ?? []), p99: nullable(s?.p99 ?? []) } });
  }
  const splits = [];
  for (const host of routesDump(view)) {
    for (const route of host.routes) {
      if (route.destinations.length === 0) continue;
      splits.push({ host: host.host, route: route.name, destinations: route.destinations.map((d) => ({ destination: d.destination, percent: d.percent })) });
      if (splits.length >= FRAME_ROUTES) break;
    }
    if (splits.length >= FRAME_ROUTES) break;
  }
  const warnings = view.compiled().warnings;
  return {
    at: Date.now(),
    tick: sampler.ticks,
    totals: { services: all.length, endpoints, available, ejected, inFlight, rate: sampler.totalRate[sampler.totalRate.length - 1] ?? 0 },
    rateHistory: sampler.totalRate,
    services,
    moreServices: all.length - services.length,
    splits,
    events: events.list().slice(-FRAME_EVENTS),
    warnings: warnings.slice(0, FRAME_WARNINGS),
    warningCount: warnings.length,
  };
}
