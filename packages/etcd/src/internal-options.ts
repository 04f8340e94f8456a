import { Etcd3, type IOptions } from 'etcd3';
import { InvalidOptionError } from 'proxyless';

/** The discovery prefix used when none is given. */
export const DEFAULT_PREFIX = '/services';

/** How long a unary etcd call (range, put, lease grant/revoke) may take, in ms. */
const CALL_TIMEOUT = 5000;

/** A DNS-style service name, as the core's endpoint lists accept it. */
export const SERVICE_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** Options shared by every factory of this package: how to reach etcd. */
export interface EtcdConnectionOptions {
  /**
   * etcd client URLs, e.g. `['http://127.0.0.1:2379', 'http://127.0.0.1:22379']`: every
   * member you want the client to use (it fails over between them). All `http://` or all
   * `https://`. Required unless `client` is given.
   */
  endpoints?: readonly string[];
  /**
   * Further options for the `etcd3` client created from `endpoints`: `credentials` (TLS),
   * `auth`, `grpcOptions`, `faultHandling`, `dialTimeout`, `defaultCallOptions`. By
   * default every unary call has a 5 s deadline.
   */
  clientOptions?: Omit<IOptions, 'hosts'>;
  /**
   * An `etcd3` client to use instead of creating one, e.g. to share one connection
   * between discovery, registration and config. Closing the source or registration does
   * not close it. Give either `client` or `endpoints`.
   */
  client?: Etcd3;
}

/** A client to use, and whether closing the user of it closes it too. */
export interface Connection {
  /** The client to use. */
  readonly client: Etcd3;
  /** True when it was created here, so its user closes it. */
  readonly owned: boolean;
  /** The client URLs, without trailing slash (empty for a client passed in). */
  readonly endpoints: readonly string[];
  /** For messages: `http://127.0.0.1:2379, http://127.0.0.1:22379` or `the given etcd3 client`. */
  readonly description: string;
}

const CONNECTION_FIELDS = ['endpoints', 'clientOptions', 'client'] as const;

/** Renders a value for an error message, short. */
export function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  try {
    const text = JSON.stringify(value) ?? String(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Checks that `options` is an object with only the `allowed` fields (plus the connection
 * fields), and checks those. Problems are pushed as `field: value (expected: ...)`.
 * Returns the options as a record, or `undefined` when not an object at all.
 */
export function checkOptions(
  options: unknown,
  allowed: readonly string[],
  example: string,
  problems: string[],
): Record<string, unknown> | undefined {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    problems.push(`options: ${show(options)} (expected: an object such as ${example})`);
    return undefined;
  }
  const record = options as Record<string, unknown>;
  const fields = [...CONNECTION_FIELDS, ...allowed];
  for (const key of Object.keys(record)) {
    if (!fields.includes(key)) problems.push(`${key}: unknown field (expected one of: ${fields.join(', ')})`);
  }
  const { endpoints, client, clientOptions } = record;
  if (client !== undefined) {
    if (!(client instanceof Etcd3) && !looksLikeClient(client)) {
      problems.push(`client: ${show(client)} (expected: an Etcd3 client from the etcd3 package)`);
    }
    if (endpoints !== undefined) {
      problems.push(`endpoints: ${show(endpoints)} (expected: endpoints or client, not both; the client already knows its hosts)`);
    }
    if (clientOptions !== undefined) {
      problems.push(`clientOptions: ${show(clientOptions)} (expected: only with endpoints; the given client was configured already)`);
    }
  } else if (endpoints === undefined) {
    problems.push(`endpoints: undefined (expected: a list of etcd client URLs such as ["http://127.0.0.1:2379"], or a client)`);
  } else if (!Array.isArray(endpoints) || endpoints.length === 0) {
    problems.push(`endpoints: ${show(endpoints)} (expected: a non-empty list of etcd client URLs such as ["http://127.0.0.1:2379"])`);
  } else {
    const before = problems.length;
    endpoints.forEach((url: unknown, index) => {
      if (typeof url !== 'string' || !/^https?:\/\/(\[[0-9a-f:.]+\]|[^\s/:[\]]+):\d{1,5}\/?$/i.test(url)) {
        problems.push(`endpoints[${index}]: ${show(url)} (expected: an etcd client URL with scheme and port, such as "http://127.0.0.1:2379")`);
      }
    });
    const schemes = new Set(endpoints.map((url: string) => url.split(':')[0]!.toLowerCase()));
    if (problems.length === before && schemes.size > 1) {
      problems.push(`endpoints: ${show(endpoints)} (expected: all http:// or all https://, not a mix)`);
    }
  }
  if (clientOptions !== undefined && (clientOptions === null || typeof clientOptions !== 'object' || Array.isArray(clientOptions))) {
    problems.push(`clientOptions: ${show(clientOptions)} (expected: an object of etcd3 client options, e.g. { dialTimeout: 3000 })`);
  } else if (clientOptions && 'hosts' in clientOptions) {
    problems.push(`clientOptions.hosts: ${show((clientOptions as { hosts: unknown }).hosts)} (expected: no hosts here; give them as endpoints)`);
  }
  return record;
}

/** Checks a key prefix and returns it without trailing slashes (`/` becomes ``). */
export function checkPrefix(field: string, value: unknown, problems: string[]): string {
  if (typeof value !== 'string' || !value.startsWith('/') || /\s/.test(value) || value.includes('//')) {
    problems.push(`${field}: ${show(value)} (expected: an etcd key prefix starting with "/", such as "/services")`);
    return '';
  }
  return value.replace(/\/+$/, '');
}

/** Throws {@link InvalidOptionError} when there are problems. */
export function throwIfProblems(where: string, problems: readonly string[]): void {
  if (problems.length > 0) throw new InvalidOptionError(where, problems);
}

/** The client the options ask for: the one given, or a new one for `endpoints`. */
export function connect(options: EtcdConnectionOptions): Connection {
  if (options.client) {
    return { client: options.client, owned: false, endpoints: [], description: 'the given etcd3 client' };
  }
  const endpoints = (options.endpoints ?? []).map((url) => url.replace(/\/$/, ''));
  const client = new Etcd3({
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT }),
    ...options.clientOptions,
    hosts: endpoints,
  });
  return { client, owned: true, endpoints, description: endpoints.join(', ') };
}

function looksLikeClient(value: unknown): boolean {
  // Tests and wrappers may pass an object with the same surface; a full check is not needed.
  return typeof value === 'object' && value !== null && typeof (value as { watch?: unknown }).watch === 'function' &&
    typeof (value as { getAll?: unknown }).getAll === 'function';
}
