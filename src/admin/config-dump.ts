import type { CompiledDestination, CompiledVirtualService } from '../route/route-table.js';
import type { IdentitySource } from '../tls/identity-source.js';
import type { ConfigRecord, MeshAdminView } from './mesh-view.js';

/** Field names whose values are never shown (keys, tokens, passwords, credentials). */
const SECRET_FIELD = /(private.?key|^key$|token|secret|password|passwd|credential|^cookie$|authorization)/i;
/** Text that holds a private key whatever its field. */
const PRIVATE_KEY_TEXT = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
/** What a hidden value is replaced with. */
export const REDACTED = '[redacted]';
/** How deep a resource is copied (a hostile config could nest without end). */
const MAX_DEPTH = 32;

/**
 * A deep copy of `value` with secrets replaced by {@link REDACTED}: the values of fields
 * named like a key, token, password or credential (`privateKey`, `credentialName`,
 * `token`...), and any string holding a PEM private key.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return PRIVATE_KEY_TEXT.test(value) ? REDACTED : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redact(v, depth + 1);
  return out;
}

/** One resource in `/config_dump`. */
export interface DumpedResource {
  /** Its kind, e.g. `VirtualService`. */
  readonly kind: string;
  /** Its `metadata.name`. */
  readonly name: string;
  /** Its `metadata.namespace`, or null. */
  readonly namespace: string | null;
  /** Where it came from: `file.yaml#2`, `etcd(/mesh)#3`, `config[0]#1` (inline). */
  readonly origin: string;
  /** The resource, secrets redacted. */
  readonly resource: unknown;
}

/** `/config_dump`: the resources in force with their origin, warnings, the last applied and last rejected versions. */
export interface ConfigDump {
  /** Each resource in force. */
  readonly resources: readonly DumpedResource[];
  /** The warnings of the config in force. */
  readonly warnings: readonly string[];
  /** The last version applied. */
  readonly lastApplied: ConfigRecord | null;
  /** The last version rejected, or null. */
  readonly lastRejected: ConfigRecord | null;
}

/** Builds `/config_dump`. */
export function configDump(view: MeshAdminView): ConfigDump {
  const resources = view.entries().map(({ resource, origin }) => {
    const r = (resource ?? {}) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    return {
      kind: typeof r.kind === 'string' ? r.kind : '(unknown)',
      name: typeof r.metadata?.name === 'string' ? r.metadata.name : '(unnamed)',
      namespace: typeof r.metadata?.namespace === 'string' ? r.metadata.namespace : null,
      origin,
      resource: redact(resource),
    };
  });
  const compiled = view.compiled();
  return { resources, warnings: compiled.warnings, lastApplied: view.lastApplied() ?? null, lastRejected: view.lastRejected() ?? null };
}

/** A weighted destination of a route in `/routes`. */
export interface RouteDestinationDump {
  /** `host[:port]/subset`. */
  readonly destination: string;
  /** Its weight as written. */
  readonly weight: number;
  /** Its share of the route's requests, in percent. */
  readonly percent: number;
}

/** One compiled route in `/routes`. */
export interface RouteDump {
  /** The route's name (`http[i]` when unnamed). */
  readonly name: string;
  /** `route`, `redirect` or `direct` (a direct response). */
  readonly action: string;
  /** Destinations with their weights and percentages (for `route`). */
  readonly destinations: readonly RouteDestinationDump[];
  /** Match blocks (ORed), by name; empty matches every request. */
  readonly matches: readonly string[];
  /** The route timeout (ms), or null. */
  readonly timeoutMs: number | null;
  /** Retries. */
  readonly retries: {
    /** Retries allowed. */
    readonly attempts: number;
    /** Timeout of each try (ms), or null. */
    readonly perTryTimeoutMs: number | null;
    /** The `retryOn` conditions. */
    readonly retryOn: readonly string[];
  };
  /** Whether hedged requests are on. */
  readonly hedging: boolean;
  /** Fault injection, or null. */
  readonly fault: {
    /** Share of requests delayed, in percent. */
    readonly delayPercent: number;
    /** Share of requests aborted, in percent. */
    readonly abortPercent: number;
  } | null;
  /** Mirrors and the share copied to each. */
  readonly mirrors: ReadonlyArray<{
    /** `host[:port]/subset`. */
    readonly destination: string;
    /** Share of requests copied, in percent. */
    readonly percent: number;
  }>;
}

/** `/routes`: the compiled VirtualService routes per host. */
export function routesDump(view: MeshAdminView): Array<{ host: string; virtualService: string; ports: number[] | null; routes: RouteDump[]; overlapped: string[] }> {
  const out = [];
  for (const [host, list] of view.compiled().routes.hosts()) {
    const first = list[0];
    if (first === undefined) continue;
    out.push({ host, virtualService: first.where, ports: first.ports === undefined ? null : [...first.ports].sort((a, b) => a - b), routes: routesOf(first), overlapped: list.slice(1).map((v) => v.where) });
  }
  return out;
}

function label(d: CompiledDestination): string {
  return d.label;
}

function routesOf(vs: CompiledVirtualService): RouteDump[] {
  return vs.routes.map((r) => {
    const a = r.action;
    const total = a.kind === 'route' ? a.total : 0;
    return {
      name: r.name,
      action: a.kind,
      destinations: a.kind === 'route' ? a.destinations.map((d) => ({ destination: label(d), weight: d.weight, percent: total > 0 ? Math.round((d.weight / total) * 10_000) / 100 : 0 })) : [],
      matches: r.matches.map((m) => m.name),
      timeoutMs: r.policy.timeoutMs ?? null,
      retries: { attempts: r.policy.retry.retries, perTryTimeoutMs: r.policy.retry.perTryTimeoutMs ?? null, retryOn: [...r.policy.retry.on].map(String) },
      hedging: r.policy.hedge !== undefined,
      fault: r.fault === undefined ? null : { delayPercent: r.fault.delayPercent, abortPercent: r.fault.abortPercent },
      mirrors: r.mirrors.map((m) => ({ destination: label(m.destination), percent: m.percent })),
    };
  });
}

/** `/certs`: the workload's SVID (never its key), or null before the first one. */
export function certsDump(identity: IdentitySource, lastRotation: number | undefined): unknown {
  const svid = identity.current();
  return {
    source: identity.name,
    spiffeId: svid?.spiffeId.toString() ?? null,
    chain: svid?.chain.map((c) => ({ subject: c.subject, issuer: c.issuer, serialNumber: c.serialNumber, notBefore: c.notBefore.toISOString(), notAfter: c.notAfter.toISOString(), fingerprint256: c.fingerprint256 })) ?? [],
    expiresAt: svid?.notAfter.toISOString() ?? null,
    expiresInMs: svid === undefined ? null : svid.notAfter.getTime() - Date.now(),
    lastRotation: lastRotation === undefined ? null : new Date(lastRotation).toISOString(),
  };
}
