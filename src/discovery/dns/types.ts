import type { DiscoverySourceState } from '../types.js';

/**
 * Options of the {@link dns} discovery source. Every field is validated when the source
 * is created; times are in milliseconds, like the mesh's other options.
 */
export interface DnsOptions {
  /**
   * DNS servers to ask, in order: `'10.0.0.10'` (port 53), `'127.0.0.1:5353'`,
   * `'[::1]:53'`, `'::1'`. IP addresses only (a server given by name would need DNS to
   * be found). Default: the system's resolvers, `dns.getServers()` from `node:dns`
   * (read once, when the source is created).
   */
  servers?: readonly string[];
  /**
   * Resolve SRV records: `true` for the pattern `_http._tcp.{name}`, or an object to set
   * the pattern. Endpoints then take their ports from the SRV records and their weights
   * from the SRV weights. Default `false`: A/AAAA records with the URL's port.
   */
  srv?: boolean | DnsSrvOptions;
  /**
   * Address records to ask for: `4` (A only), `6` (AAAA only) or `0` (both, the
   * default), as `family` in `dns.lookup`.
   */
  family?: 0 | 4 | 6;
  /** How long to wait for one server's reply to one query, in ms. Default 1000. */
  timeout?: number;
  /**
   * Rounds over the server list per query, as `attempts` in resolv.conf: a query tries
   * each server in turn, this many times, before it fails. Default 2.
   */
  attempts?: number;
  /** Floor for record TTLs, in ms (a TTL of 0 s becomes this). Default 1000. */
  minTtl?: number;
  /** Ceiling for record TTLs, in ms. Default 300000 (5 minutes). */
  maxTtl?: number;
  /**
   * Ceiling for how long a negative answer (NXDOMAIN, or no record of the type) is
   * cached, in ms. The time itself comes from the zone's SOA record (RFC 2308: the
   * smaller of the SOA's TTL and its MINIMUM field), floored at `minTtl`. Default 30000.
   */
  maxNegativeTtl?: number;
  /**
   * How long past its TTL an answer keeps being served while refreshes fail
   * (SERVFAIL, REFUSED, timeouts), in ms. After that its endpoints are dropped: the
   * service stays known with no endpoints until a refresh succeeds. Default 3600000
   * (1 hour).
   */
  maxStale?: number;
}

/** How SRV records are looked up; see {@link DnsOptions.srv}. */
export interface DnsSrvOptions {
  /**
   * The SRV name for a service name: `{name}` is replaced by the name queried (the
   * FQDN, then the URL's host). Default `_http._tcp.{name}`, which for a Kubernetes
   * headless service is `_http._tcp.<service>.<namespace>.svc.<clusterDomain>` (its
   * port named `http`, protocol TCP).
   */
  pattern?: string;
  /**
   * When the SRV name does not exist or has no SRV records, use the name's A/AAAA
   * records with the URL's port instead. Default `true` (a Kubernetes ClusterIP
   * service, or any plain host, still resolves).
   */
  addressFallback?: boolean;
}

/** What {@link DnsSource.state} reports: the common fields and the DNS source's own counts. */
export interface DnsSourceState extends DiscoverySourceState {
  /** DNS names (with their record type) cached and refreshed right now. */
  readonly names: number;
  /** Of those, names whose answer is past its TTL and served stale because refreshes fail. */
  readonly stale: number;
  /** Queries sent so far (each counted once, however many servers and attempts it took). */
  readonly queries: number;
  /** Queries that failed on every server and attempt. */
  readonly failures: number;
}

/** The record types the DNS source asks for. */
export type DnsRecordType = 'A' | 'AAAA' | 'SRV';

/**
 * Why a DNS query failed: no reply in time, an error code from the server, replies that
 * could not be decoded, a socket error, a name that cannot be queried, or a CNAME chain
 * that does not end.
 */
export type DnsFailureReason =
  | 'timeout'
  | 'SERVFAIL'
  | 'REFUSED'
  | 'NOTIMP'
  | 'FORMERR'
  | 'rcode'
  | 'malformed'
  | 'network'
  | 'invalid-name'
  | 'cname-loop';
