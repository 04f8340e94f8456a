/**
 * The DNS discovery source: `dns(options)` resolves services from A/AAAA or SRV records,
 * in the background, honouring TTLs.
 *
 * @module
 */
export { dns, DnsSource } from './dns-source.js';
export { DnsError } from './dns-error.js';
export type { DnsAttemptFailure } from './dns-error.js';
export type { DnsOptions, DnsSrvOptions, DnsSourceState, DnsRecordType, DnsFailureReason } from './types.js';
