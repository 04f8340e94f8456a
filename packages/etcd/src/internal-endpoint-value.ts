import { type Endpoint, type EndpointSpec } from 'proxyless';
import { endpointKey, parseEndpoint } from 'proxyless/discovery';
import { show } from './internal-options.js';

/**
 * Checks an endpoint written as an object (`{ address, port, weight?, labels? }`) with the
 * same rules as the core's endpoint lists, and returns it normalised, or a problem line
 * `field: value (expected: ...)` with `field` prefixed by `path` (e.g. `endpoint.port`).
 * Fields other than these four are ignored, so registrars may store more (a start time,
 * a version string) without breaking readers.
 */
export function checkEndpointObject(input: unknown, path: string): Endpoint | string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return `${path || 'value'}: ${show(input)} (expected: an object { "address": "10.0.0.5", "port": 9080, "weight"?: 1, "labels"?: { ... } })`;
  }
  // The core's rules, so a registry and a static list accept the same endpoints.
  const { address, port, weight, labels } = input as Partial<EndpointSpec>;
  const result = parseEndpoint({ address, port, weight, labels } as EndpointSpec, path || 'value');
  return typeof result === 'string' ? (path ? result : result.replace(/^value\./, '')) : Object.freeze(result);
}

export { endpointKey };

/** Parses a registration value (JSON text) into an endpoint, or a problem in words. */
export function parseRegistrationValue(text: string): Endpoint | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `value ${show(text)} is not JSON (${(error as Error).message}); expected { "address": "10.0.0.5", "port": 9080, "weight"?: 1, "labels"?: { ... } }`;
  }
  return checkEndpointObject(value, '');
}
