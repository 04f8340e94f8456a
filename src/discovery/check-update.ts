import { parseEndpoint } from './parse-endpoint.js';
import type { DiscoveryUpdate, Endpoint } from './types.js';

/** The most endpoints one update may carry: far above any real service, below what exhausts memory. */
export const MAX_UPDATE_ENDPOINTS = 100_000;

/** What {@link checkDiscoveryUpdate} returns: the update to apply, or what is wrong with it. */
export type CheckedUpdate = { readonly ok: true; readonly update: DiscoveryUpdate } | { readonly ok: false; readonly problem: string };

/**
 * Checks an update a discovery source sent, at the boundary between the source and the
 * mesh: sources are user code (custom sources) or read remote data (etcd values, files),
 * so nothing about the value is trusted, not even that reading its fields is safe (a
 * getter may throw). Returns the update with each endpoint normalised (a missing weight
 * is 1, missing labels are none), or one problem line naming the field, the value and
 * what was expected.
 *
 * Endpoints that are already in normal form are passed through as the same objects, so
 * a source that repeats an endpoint object is not seen as changing it.
 */
export function checkDiscoveryUpdate(update: unknown): CheckedUpdate {
  try {
    return check(update);
  } catch (error) {
    return { ok: false, problem: `reading the update threw: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function check(update: unknown): CheckedUpdate {
  if (update === null || typeof update !== 'object' || Array.isArray(update)) {
    return fail(`update: ${show(update)} (expected: an object such as { type: "reset", endpoints: [...] })`);
  }
  const type: unknown = (update as { type?: unknown }).type;
  if (type === 'missing') return { ok: true, update: { type: 'missing' } };
  if (type !== 'reset' && type !== 'add' && type !== 'remove') {
    return fail(`type: ${show(type)} (expected: "reset", "add", "remove" or "missing")`);
  }
  const list: unknown = (update as { endpoints?: unknown }).endpoints;
  if (!Array.isArray(list)) return fail(`endpoints: ${show(list)} (expected: an array of endpoints)`);
  if (list.length > MAX_UPDATE_ENDPOINTS) {
    return fail(`endpoints: ${list.length} endpoints (expected: at most ${MAX_UPDATE_ENDPOINTS} in one update)`);
  }
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < list.length; i++) {
    const item: unknown = list[i];
    const field = `endpoints[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) {
      return fail(`${field}: ${show(item)} (expected: { address, port, weight?, labels? })`);
    }
    const { address, port, weight } = item as { address?: unknown; port?: unknown; weight?: unknown };
    // Types first, with our own wording (any value, a BigInt included, can be shown).
    if (typeof address !== 'string') return fail(`${field}.address: ${show(address)} (expected: an IP address or host name)`);
    if (typeof port !== 'number') return fail(`${field}.port: ${show(port)} (expected: an integer from 1 to 65535)`);
    if (type === 'remove') {
      // Only the identity matters for a removal: weight and labels are not read.
      const parsed = parseEndpoint({ address, port }, field);
      if (typeof parsed === 'string') return fail(parsed);
      endpoints.push(parsed);
      continue;
    }
    if (weight !== undefined && typeof weight !== 'number') return fail(`${field}.weight: ${show(weight)} (expected: an integer from 1 to 1000000)`);
    const parsed = parseEndpoint(item as Endpoint, field);
    if (typeof parsed === 'string') return fail(parsed);
    endpoints.push(isNormal(item as Endpoint, parsed) ? (item as Endpoint) : parsed);
  }
  return { ok: true, update: { type, endpoints } };
}

/** True when the source's object already is what parsing made of it (same fields). */
function isNormal(item: Endpoint, parsed: Endpoint): boolean {
  return item.address === parsed.address && item.port === parsed.port && item.weight === parsed.weight && item.labels !== undefined && item.labels !== null;
}

function fail(problem: string): CheckedUpdate {
  return { ok: false, problem };
}

function show(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
