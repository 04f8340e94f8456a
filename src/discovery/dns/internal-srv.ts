import type { SrvRecord } from './internal-message.js';

/** An address with a port and a weight: one endpoint to be (port `undefined`: the caller's port). */
export interface Target {
  readonly address: string;
  readonly port: number | undefined;
  readonly weight: number;
  /** The SRV tier (0 for the most preferred tier with addresses); unset for address records. */
  readonly tier?: number;
}

/** Largest endpoint weight the mesh accepts. */
const MAX_WEIGHT = 1_000_000;

/**
 * An SRV weight as an endpoint weight: the same number, except that 0 becomes 1. RFC
 * 2782 gives weight-0 records "a very small chance" next to weighted ones; 1 against
 * the others' weights is that, and an all-zero set is spread evenly, as the RFC asks.
 */
export function srvEndpointWeight(weight: number): number {
  return Math.min(MAX_WEIGHT, Math.max(1, Math.floor(weight)));
}

/**
 * The endpoints of an SRV record set (RFC 2782), every tier of it: each target's addresses
 * with the record's weight ({@link srvEndpointWeight}) and its `tier`, the rank of its
 * priority value among the tiers that give addresses (tier 0 is the most preferred one
 * that does). A tier whose targets give no address (target `.`, or names that resolve to
 * nothing) is skipped, as RFC 2782 says. The mesh serves tier 0 and fails over to the
 * next tiers on endpoint health, with Envoy's priority rules (the endpoints carry the
 * tier as the `proxyless.dev/priority` label; src/balance/locality-balancer.ts).
 *
 * `addressesOf` gives a record's target addresses, or `'pending'` while they are being
 * resolved; the choice is `'pending'` only while no tier with addresses is known before
 * a tier still resolving (a backup tier still resolving joins when it is in).
 */
export function selectSrvEndpoints(
  records: readonly SrvRecord[],
  addressesOf: (record: SrvRecord) => readonly string[] | 'pending',
): Target[] | 'pending' {
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
  const out: Target[] = [];
  const taken = new Set<string>();
  let tier = 0;
  for (const priority of priorities) {
    const targets: Target[] = [];
    let pending = false;
    for (const record of records) {
      if (record.priority !== priority || record.target === '.' || record.target === '') continue;
      const addresses = addressesOf(record);
      if (addresses === 'pending') {
        pending = true;
        continue;
      }
      const weight = srvEndpointWeight(record.weight);
      for (const address of addresses) targets.push({ address, port: record.port, weight, tier });
    }
    // Nothing served yet and this tier is still resolving: wait for it.
    if (pending && out.length === 0) return 'pending';
    if (targets.length === 0) continue;
    // An address and port already in a more preferred tier stays there.
    for (const target of mergeTargets(targets)) {
      const key = `${target.address}|${target.port ?? ''}`;
      if (taken.has(key)) continue;
      taken.add(key);
      out.push(target);
    }
    tier++;
  }
  return out;
}

/**
 * Folds duplicates (one address and port named by several records or several target
 * names) into one endpoint whose weight is the sum, capped at 1,000,000.
 */
export function mergeTargets(targets: readonly Target[]): Target[] {
  const merged = new Map<string, Target>();
  for (const target of targets) {
    const key = `${target.address}|${target.port ?? ''}`;
    const previous = merged.get(key);
    merged.set(key, previous ? { ...previous, weight: Math.min(MAX_WEIGHT, previous.weight + target.weight) } : target);
  }
  return [...merged.values()];
}
