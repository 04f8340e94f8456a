import { ProxylessError } from 'proxyless';

/**
 * etcd could not be reached or refused a call. The source or registration keeps what it
 * has (the last known endpoints, the last good config) and retries by itself; this error
 * is reported as an `error` event, never thrown into a request.
 */
export class EtcdUnavailableError extends ProxylessError {
  /** The etcd client URLs in use (empty when an etcd3 client was passed in). */
  readonly endpoints: readonly string[];

  /**
   * @param message what failed and what happens meanwhile
   * @param endpoints the client URLs; @param cause the etcd3 client's error
   */
  constructor(message: string, endpoints: readonly string[], cause: unknown) {
    super('PROXYLESS_ERR_ETCD_UNAVAILABLE', message, { cause });
    this.endpoints = endpoints;
  }
}

/**
 * A key under a discovery prefix did not hold a valid instance: the key is not
 * `<prefix>/<service>/<instance-id>`, or the value is not JSON
 * `{ "address", "port", "weight"?, "labels"? }` with valid fields. The key is skipped
 * (its last good value, if any, stays in use) and discovery goes on.
 */
export class EtcdValueError extends ProxylessError {
  /** The etcd key at fault, e.g. `/services/reviews/10.0.0.5:9080`. */
  readonly key: string;

  /** @param source the source's name; @param key the key; @param problem what is wrong with it */
  constructor(source: string, key: string, problem: string) {
    super('PROXYLESS_ERR_ETCD_VALUE', `${source}: skipped key ${key}: ${problem}`);
    this.key = key;
  }
}

/**
 * A registration's lease expired (etcd was unreachable for longer than the TTL, or the
 * lease was revoked by someone else), so its key is gone or about to go. The
 * registration puts the key again under a new lease as soon as etcd answers.
 */
export class EtcdLeaseLostError extends ProxylessError {
  /** The registration's key. */
  readonly key: string;

  /** @param key the registration's key; @param cause the etcd3 client's error */
  constructor(key: string, cause: unknown) {
    super(
      'PROXYLESS_ERR_ETCD_LEASE_LOST',
      `registration ${key}: lost its etcd lease (${errorText(cause)}); registering again under a new lease as soon as etcd answers`,
      { cause },
    );
    this.key = key;
  }
}

/** One line for an unknown thrown value. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.name;
  return String(error);
}
