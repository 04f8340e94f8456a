import type { SrvRecord } from './internal-message.js';

/** An address with a port and a weight: one endpoint to be (port `undefined`: the caller's port). */
export interface Target {
  readonly address: string;
  readonly port: number | undefined;
  readonly weight: number;
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
 * Chooses the endpoints of an SRV record set (RFC 2782): only the lowest priority value
 * (the most preferred tier) is served; a higher tier is used only when every target of
 * the tiers before it gives no address (target `.`, or names that resolve to nothing).
 * Weights become endpoint weights ({@link srvEndpointWeight}), so weighted balancers
 * split traffic by them; each address of a target carries the record's weight.
 * Switching tiers on endpoint health is left to outlier detection, not done here.
 *
 * `addressesOf` gives a record's target addresses, or `'pending'` while they are being
 * resolved; the choice is then `'pending'` (nothing to report yet).
 */
export function selectSrvEndpoints(
  records: readonly SrvRecord[],
  addressesOf: (record: SrvRecord) => readonly string[] | 'pending',
): Target[] | 'pending' {
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b);
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
      for (const address of addresses) targets.push({ address, port: record.port, weight });
    }
    if (pending) return 'pending';
    if (targets.length > 0) return mergeTargets(targets);
  }
  return [];
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
