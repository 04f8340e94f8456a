import { isIP } from 'node:net';
import type { Endpoint, EndpointInput } from './types.js';

const EMPTY_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * True for an address an endpoint can have: an IPv4 or IPv6 address, or a DNS name
 * (letters, digits, `-`, `_`, dots; at most 253 characters). Nothing else:
 * `evil@127.0.0.1` would connect to 127.0.0.1, and `#`, `?`, `/` or spaces make URLs
 * that undici refuses or misreads.
 */
export function isEndpointAddress(address: string): boolean {
  return isIP(address) !== 0 || (address.length <= 253 && /^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/.test(address));
}

/**
 * Checks one user-written endpoint and returns it normalised, or a problem line
 * `field: value (expected: ...)` naming `field` as the caller's path to it.
 */
export function parseEndpoint(input: EndpointInput, field: string): Endpoint | string {
  if (typeof input === 'string') {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s/]+)):(\d{1,5})$/.exec(input);
    if (!match) {
      return `${field}: ${JSON.stringify(input)} (expected: "host:port" such as "127.0.0.1:9080" or "[::1]:9080")`;
    }
    const port = Number(match[3]);
    if (!isEndpointAddress(match[1] ?? match[2]!)) {
      return `${field}: ${JSON.stringify(input)} (expected: "host:port" with an IP address or host name, e.g. "127.0.0.1:9080")`;
    }
    if (port < 1 || port > 65535) {
      return `${field}: ${JSON.stringify(input)} (expected: a port from 1 to 65535)`;
    }
    return { address: match[1] ?? match[2]!, port, weight: 1, labels: EMPTY_LABELS };
  }
  if (input === null || typeof input !== 'object') {
    return `${field}: ${JSON.stringify(input)} (expected: "host:port" or { address, port, weight?, labels? })`;
  }
  const { address, port, weight = 1, labels } = input;
  if (typeof address !== 'string' || !isEndpointAddress(address)) {
    const withPort = typeof address === 'string' && address.includes(':') && isIP(address) === 0;
    return `${field}.address: ${JSON.stringify(address)} (expected: an IP address or host name${withPort ? ', without a port' : ''})`;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return `${field}.port: ${JSON.stringify(port)} (expected: an integer from 1 to 65535)`;
  }
  if (!Number.isInteger(weight) || weight < 1 || weight > 1_000_000) {
    return `${field}.weight: ${JSON.stringify(weight)} (expected: an integer from 1 to 1000000)`;
  }
  if (labels !== undefined) {
    if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
      return `${field}.labels: ${JSON.stringify(labels)} (expected: an object of string values, e.g. { version: "v2" })`;
    }
    for (const [key, value] of Object.entries(labels)) {
      if (typeof value !== 'string') {
        return `${field}.labels.${key}: ${JSON.stringify(value)} (expected: a string)`;
      }
    }
  }
  return {
    address,
    port,
    weight,
    labels: labels && Object.keys(labels).length > 0 ? Object.freeze({ ...labels }) : EMPTY_LABELS,
  };
}

/** `address:port`, with IPv6 addresses in brackets: the key of an endpoint in a service. */
export function endpointKey(endpoint: Pick<Endpoint, 'address' | 'port'>): string {
  return endpoint.address.includes(':') ? `[${endpoint.address}]:${endpoint.port}` : `${endpoint.address}:${endpoint.port}`;
}

/**
 * Checks one service's endpoint list as a user or a file wrote it. Problems are pushed
 * as `service[index]...: value (expected: ...)` lines; returns the list, frozen, or
 * `undefined` when anything was wrong.
 */
export function parseEndpointList(service: string, list: unknown, problems: string[]): Endpoint[] | undefined {
  const before = problems.length;
  if (typeof service !== 'string' || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(service)) {
    problems.push(`${JSON.stringify(service)}: (expected: a DNS-style service name such as "reviews" or "reviews.bookinfo")`);
  }
  if (!Array.isArray(list)) {
    problems.push(`${service}: ${JSON.stringify(list)} (expected: an array of endpoints)`);
    return undefined;
  }
  const parsed: Endpoint[] = [];
  const seen = new Set<string>();
  list.forEach((item: EndpointInput, index) => {
    const result = parseEndpoint(item, `${service}[${index}]`);
    if (typeof result === 'string') {
      problems.push(result);
      return;
    }
    const key = endpointKey(result);
    if (seen.has(key)) {
      problems.push(`${service}[${index}]: ${JSON.stringify(item)} (expected: each address:port once per service)`);
      return;
    }
    seen.add(key);
    parsed.push(result);
  });
  return problems.length === before ? (Object.freeze(parsed) as Endpoint[]) : undefined;
}
