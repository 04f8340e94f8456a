import type { LatencyHistogram } from '../balance/latency-histogram.js';
import type { ClusterEndpoint } from './clusters.js';
import type { CompiledConfig } from '../compile/compile-config.js';
import type { ConfigEntry } from '../config/load-config.js';
import type { DiscoverySourceState } from '../discovery/types.js';
import type { EndpointHealth } from '../policy/health-check/index.js';
import type { OutlierHostStats } from '../policy/outlier/index.js';
import type { Explanation } from '../route/explain.js';

/** A config version applied or rejected, as `/config_dump` shows it. */
export interface ConfigRecord {
  /** Where it came from: a file or config source name, `applyConfig` or `createMesh`. */
  readonly source: string;
  /** When (epoch ms). */
  readonly at: number;
  /** How many resources it had (0 for a rejected one). */
  readonly resources: number;
  /** Its warnings. */
  readonly warnings: readonly string[];
  /** Why it was rejected (the error's message, naming documents and fields). */
  readonly error?: string;
}

/**
 * An endpoint as the admin reads it (the mesh's `AdminEndpoint`; the admin sits below
 * the mesh in the import order, so it names only what it reads). What `/clusters` shows
 * of it as is (identity, weight, labels, availability, request counts) is typed, and
 * documented, once: on {@link ClusterEndpoint}.
 *
 * Not part of the public API (the admin's own view of the mesh).
 */
export interface AdminEndpoint extends Pick<ClusterEndpoint, 'key' | 'address' | 'port' | 'weight' | 'labels' | 'available' | 'pending' | 'requests' | 'failures'> {
  /** Ejected by outlier detection. */
  readonly ejected: boolean;
  /** Failing its active health checks. */
  readonly unhealthy: boolean;
  /** The balancer's Peak EWMA cost at `nowMs`, in ms (its load counted against `weight`). */
  cost(nowMs: number, weight?: number): number;
}

/**
 * A service as the admin reads it (the mesh's `AdminService`).
 *
 * Not part of the public API (the admin's own view of the mesh).
 */
export interface AdminService {
  readonly name: { readonly fqdn: string; readonly host: string; readonly port: number };
  readonly subset: string | undefined;
  readonly status: string;
  readonly balancerName: string;
  readonly inFlight: number;
  readonly panic: boolean;
  endpoints(): readonly AdminEndpoint[];
  healthStatus(): EndpointHealth[] | undefined;
  readonly breaker: { state(): string; readonly openedAt: number | undefined; stats(): { readonly failures: number; readonly rejects: number } } | undefined;
  readonly outlierDetector: { inspect(host: AdminEndpoint): OutlierHostStats | undefined } | undefined;
  readonly latency: { readonly histogram: LatencyHistogram };
}

/**
 * The mesh as the admin uses it: `Mesh` has all of it.
 *
 * Not part of the public API (the admin's own view of the mesh).
 */
export interface AdminMesh {
  adminView(): MeshAdminView;
  explain(url: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Explanation>;
  sources(): DiscoverySourceState[];
  drain(options?: { delay?: number; grace?: number }): Promise<void>;
  ready(options?: { timeout?: number }): Promise<void>;
  close(): Promise<void>;
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * What the admin module reads from a mesh, through `mesh.adminView()`: nothing here is
 * copied on the request path; the admin reads it when asked (and once a second for the
 * dashboard).
 *
 * Not part of the public API (the admin's own view of the mesh).
 */
export interface MeshAdminView {
  /** The services made so far. */
  services(): Iterable<AdminService>;
  /** The config resources in force, each with its origin (file, source key, inline). */
  entries(): readonly ConfigEntry[];
  /** The compiled config in force. */
  compiled(): CompiledConfig;
  /** The last version applied (the first is `createMesh`'s). */
  lastApplied(): ConfigRecord | undefined;
  /** The last version rejected, if any. */
  lastRejected(): ConfigRecord | undefined;
  /** The namespace of this workload. */
  readonly namespace: string;
  /** True once the mesh is closing. */
  closed(): boolean;
}
