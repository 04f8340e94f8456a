import { networkInterfaces } from 'node:os';
import { getHeader } from '../core/headers.js';
import { murmurHash3 } from './hash.js';
import type { Balancer, BalancerEndpoint, BalancerRuntime, PickRequest, RingHashOptions } from './types.js';

/** Envoy's bounds of `minimumRingSize` / `maximumRingSize`. */
const DEFAULT_MINIMUM_RING_SIZE = 1024;
const DEFAULT_MAXIMUM_RING_SIZE = 8_388_608;
/** Endpoint indexes sit in the low bits of a packed `hash · 2^21 + index` double. */
const INDEX_RANGE = 2 ** 21;

/** This instance's first non-internal IPv4 address, else `127.0.0.1`. */
function localAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      // `family` was the number 4 in Node 18.0–18.3.
      if (!address.internal && (address.family === 'IPv4' || (address.family as unknown) === 4)) return address.address;
    }
  }
  return '127.0.0.1';
}

/** Index of the next `;` or `,` (repeated cookie headers are joined with `, `) at or after `from`. */
function cookieSeparator(header: string, from: number): number {
  for (let i = from; i < header.length; i++) {
    const c = header.charCodeAt(i);
    if (c === 0x3b || c === 0x2c) return i;
  }
  return header.length;
}

/** Value of cookie `name` in a `Cookie` header, without surrounding double quotes. */
function cookieValue(header: string, name: string): string | undefined {
  let start = 0;
  while (start < header.length) {
    const end = cookieSeparator(header, start);
    const equals = header.indexOf('=', start);
    if (equals > 0 && equals < end && header.slice(start, equals).trim() === name) {
      const value = header.slice(equals + 1, end).trim();
      return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
    }
    start = end + 1;
  }
  return undefined;
}

function decodeQueryPart(part: string): string {
  if (part.indexOf('%') < 0 && part.indexOf('+') < 0) return part;
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return part; // malformed escape: hash the raw text
  }
}

/** Decoded value of query parameter `name` in `path` (`/x?a=1&b=2#f`); `a` alone is `''`. */
function queryValue(path: string, name: string): string | undefined {
  const question = path.indexOf('?');
  if (question < 0) return undefined;
  let stop = path.indexOf('#', question);
  if (stop < 0) stop = path.length;
  let start = question + 1;
  while (start < stop) {
    let end = path.indexOf('&', start);
    if (end < 0 || end > stop) end = stop;
    let equals = path.indexOf('=', start);
    if (equals < 0 || equals > end) equals = end;
    if (decodeQueryPart(path.slice(start, equals)) === name) {
      return equals < end ? decodeQueryPart(path.slice(equals + 1, end)) : '';
    }
    start = end + 1;
  }
  return undefined;
}

/**
 * Envoy's `RING_HASH` (Istio `consistentHash`): requests with the same key go to the
 * same endpoint, and adding or removing one endpoint moves only the keys on its share
 * of the ring.
 *
 * The ring: each endpoint gets virtual nodes in proportion to its weight, hashed from
 * `"<endpoint key>_<n>"` with {@link murmurHash3}; as in Envoy, the lightest endpoint
 * gets `ceil(minimumRingSize × its share)` nodes, the others scale with weight, and the
 * total is capped near `maximumRingSize`. A pick hashes the request's key and takes the
 * first node at or after it (wrapping), by binary search: O(log ring size). Because the
 * node count per endpoint follows `minimumRingSize / n`, a change of n also adds or
 * drops a few nodes of the remaining endpoints, which moves a few more keys than the
 * ideal 1/n (Envoy behaves the same).
 *
 * Keys: a header value, a cookie value (quotes removed), a query parameter value
 * (percent- and `+`-decoded, from the path, else from undici's `query` option), or the
 * source IP. In a client-side mesh the source is this process, so `useSourceIp` hashes
 * this instance's own address, found once at construction (first non-internal IPv4,
 * else `127.0.0.1`): every request from one instance sticks to one endpoint. A request
 * without its key goes to a random point of the ring (Envoy hashes a random number).
 * Envoy's generation of a missing cookie (`httpCookie.ttl`) is not done: without the
 * cookie the request is placed at random and no `Set-Cookie` is added.
 *
 * An unavailable endpoint's keys walk on along the ring to the next available endpoint
 * (at most `4n + 64` nodes), then fall back to a scan of the endpoint list from there
 * (O(n)). `undefined` only when none is available.
 */
export class RingHashBalancer<E extends BalancerEndpoint = BalancerEndpoint> implements Balancer<E> {
  /** `ring-hash`. */
  readonly name = 'ring-hash';
  /** Endpoints sorted by key, so the ring does not depend on the order of the update. */
  private endpoints: readonly E[] = [];
  /** Node hashes in ascending order. */
  private hashes = new Uint32Array(0);
  /** `owners[i]`: index in `endpoints` of the node at `hashes[i]`. */
  private owners = new Int32Array(0);
  private readonly headerName: string | undefined;
  private readonly cookieName: string | undefined;
  private readonly queryName: string | undefined;
  /** Hash of this instance's address when `useSourceIp`. */
  private readonly sourceHash: number | undefined;
  private readonly minimumRingSize: number;
  private readonly maximumRingSize: number;
  private readonly random: () => number;

  /** Use {@link ringHash} to create one. */
  constructor(options: RingHashOptions, runtime: BalancerRuntime = {}) {
    const key = options.key;
    if ('httpHeaderName' in key) this.headerName = key.httpHeaderName.toLowerCase();
    else if ('httpCookie' in key) this.cookieName = key.httpCookie.name;
    else if ('httpQueryParameterName' in key) this.queryName = key.httpQueryParameterName;
    else this.sourceHash = murmurHash3(options.sourceAddress ?? localAddress());
    this.minimumRingSize = options.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE;
    this.maximumRingSize = options.maximumRingSize ?? DEFAULT_MAXIMUM_RING_SIZE;
    if (!(this.minimumRingSize >= 1 && this.minimumRingSize <= this.maximumRingSize)) {
      throw new RangeError(
        `minimumRingSize: ${this.minimumRingSize} (expected: 1..maximumRingSize, ${this.maximumRingSize})`,
      );
    }
    this.random = runtime.random ?? Math.random;
  }

  /** Rebuilds the ring: O(ring size · log ring size). */
  update(endpoints: readonly E[]): void {
    const sorted = endpoints.slice().sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const n = sorted.length;
    if (n >= INDEX_RANGE) throw new RangeError(`ring hash: ${n} endpoints (expected: fewer than ${INDEX_RANGE})`);
    this.endpoints = sorted;
    let total = 0;
    let lightest = Infinity;
    for (const endpoint of sorted) {
      total += endpoint.weight;
      if (endpoint.weight < lightest) lightest = endpoint.weight;
    }
    // Envoy: scale so that the lightest endpoint gets ceil(minimumRingSize × its share)
    // nodes, capped at the maximum ring size; then walk the cumulative targets.
    const minShare = n === 0 ? 1 : lightest / total;
    const scale = Math.min(Math.ceil(minShare * this.minimumRingSize) / minShare, this.maximumRingSize);
    const packed = new Float64Array(n === 0 ? 0 : Math.ceil(scale) + n);
    let size = 0;
    let target = 0;
    for (let i = 0; i < n; i++) {
      target += (scale * sorted[i].weight) / total;
      const key = sorted[i].key;
      for (let node = 0; size < target; node++) {
        packed[size++] = murmurHash3(`${key}_${node}`) * INDEX_RANGE + i;
      }
    }
    // Sorting the packed doubles sorts by hash, then by endpoint (a stable tie-break).
    const ring = packed.subarray(0, size).sort();
    this.hashes = new Uint32Array(size);
    this.owners = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const owner = ring[i] % INDEX_RANGE;
      this.owners[i] = owner;
      this.hashes[i] = (ring[i] - owner) / INDEX_RANGE;
    }
  }

  /**
   * The endpoint owning the request's key on the ring (random without a key); on a
   * host-selection retry (`attempt` > 0), the node `attempt` places on, as Envoy's ring
   * hash does when a retry predicate rejected the owner.
   */
  pick(request: PickRequest, attempt = 0): E | undefined {
    const endpoints = this.endpoints;
    const n = endpoints.length;
    if (n === 0) return undefined;
    const hash = this.requestHash(request);
    const hashes = this.hashes;
    const size = hashes.length;
    // First node with hashes[i] >= hash.
    let low = 0;
    let high = size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (hashes[middle] < hash) low = middle + 1;
      else high = middle;
    }
    if (low === size) low = 0;
    if (attempt > 0) low = (low + attempt) % size;
    const walk = Math.min(size, 4 * n + 64);
    for (let step = 0; step < walk; step++) {
      const endpoint = endpoints[this.owners[(low + step) % size]];
      if (endpoint.available) return endpoint;
    }
    const from = this.owners[(low + walk) % size];
    for (let step = 0; step < n; step++) {
      const endpoint = endpoints[(from + step) % n];
      if (endpoint.available) return endpoint;
    }
    return undefined;
  }

  /** The request's hash, or a random one when the request has no key. */
  private requestHash(request: PickRequest): number {
    if (this.sourceHash !== undefined) return this.sourceHash;
    let value: string | undefined;
    if (this.headerName !== undefined) {
      value = getHeader(request.headers, this.headerName);
    } else if (this.cookieName !== undefined) {
      const header = getHeader(request.headers, 'cookie');
      if (header !== undefined) value = cookieValue(header, this.cookieName);
    } else if (this.queryName !== undefined) {
      value = queryValue(request.path, this.queryName);
      if (value === undefined && request.query != null) {
        const raw: unknown = request.query[this.queryName];
        if (raw != null) value = String(raw);
      }
    }
    return value === undefined ? Math.floor(this.random() * 0x1_0000_0000) : murmurHash3(value);
  }
}

/** Creates a ring hash balancer (Istio `consistentHash`, Envoy `RING_HASH`). */
export function ringHash<E extends BalancerEndpoint = BalancerEndpoint>(
  options: RingHashOptions,
  runtime?: BalancerRuntime,
): RingHashBalancer<E> {
  return new RingHashBalancer<E>(options, runtime);
}
