import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import type { AuthzRequest } from './request-view.js';

/**
 * External authorization providers for CUSTOM AuthorizationPolicies, given in code
 * (`createMesh({ authorization: { providers } })`). Istio names a provider of its mesh
 * config (an ext_authz server); proxyless calls a function of the application instead,
 * with the same knobs as Istio's `envoyExtAuthzHttp` provider: `timeout` (Istio's default
 * 600 s), `failOpen` (default false: a provider that fails or times out denies) and
 * `statusOnError` (default 403).
 *
 * @module
 */

/** What a provider answers: `true`/`false`, or an object saying more. */
export type AuthorizationVerdict =
  | boolean
  | {
      /** Allowed. */
      readonly allow: true;
      /** Headers to set on the request before the application sees it. */
      readonly headers?: Readonly<Record<string, string>>;
    }
  | {
      /** Denied. */
      readonly allow: false;
      /** The response status (default 403). */
      readonly status?: number;
      /** The response body (default none). */
      readonly body?: string;
      /** Response headers. */
      readonly headers?: Readonly<Record<string, string>>;
    };

/** What a provider's `check` receives besides the request. */
export interface AuthorizationCheckContext {
  /** The provider's name. */
  readonly provider: string;
  /** Aborted when the provider's timeout passes (the request is then decided without it). */
  readonly signal: AbortSignal;
}

/** A provider's decision function. */
export type AuthorizationCheck = (request: AuthzRequest, context: AuthorizationCheckContext) => AuthorizationVerdict | Promise<AuthorizationVerdict>;

/** A provider with its settings. */
export interface AuthorizationProvider {
  /** Decides a request that a CUSTOM policy naming this provider matched. */
  readonly check: AuthorizationCheck;
  /** Milliseconds to wait for `check` (Istio's default: 600 000). */
  readonly timeout?: number;
  /** On a failure or timeout, allow (true) or deny (false, the default). */
  readonly failOpen?: boolean;
  /** The status of a denial caused by a failure or timeout (default 403). */
  readonly statusOnError?: number;
}

/** `createMesh({ authorization })`: providers for CUSTOM AuthorizationPolicies, by the name policies give. */
export interface AuthorizationOptions {
  /** Providers by name: a check function, or one with its settings. */
  readonly providers?: Readonly<Record<string, AuthorizationProvider | AuthorizationCheck>>;
}

/** A provider with its defaults applied. */
export interface ResolvedProvider {
  /** Its name. */
  readonly name: string;
  /** Its decision function. */
  readonly check: AuthorizationCheck;
  /** Milliseconds to wait for it. */
  readonly timeout: number;
  /** Allow when it fails. */
  readonly failOpen: boolean;
  /** The status of a denial caused by a failure. */
  readonly statusOnError: number;
}

/** Istio's default ext_authz timeout. */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 600_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Validates `authorization` options (field, value and expectation for every problem) and
 * applies the defaults.
 *
 * @throws InvalidOptionError
 */
export function resolveAuthorizationOptions(options: AuthorizationOptions | undefined, where = 'createMesh'): ReadonlyMap<string, ResolvedProvider> {
  const out = new Map<string, ResolvedProvider>();
  if (options === undefined) return out;
  const problems: string[] = [];
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError(where, [`authorization: ${formatValue(options)} (expected: an object such as { providers: { "my-ext-authz": check } })`]);
  }
  const providers = options.providers ?? {};
  if (providers === null || typeof providers !== 'object' || Array.isArray(providers)) {
    throw new InvalidOptionError(where, [`authorization.providers: ${formatValue(providers)} (expected: an object of provider name to a check function or { check, timeout, failOpen, statusOnError })`]);
  }
  for (const [name, value] of Object.entries(providers)) {
    const at = `authorization.providers[${JSON.stringify(name)}]`;
    if (name === '') problems.push(`authorization.providers: "" (expected: non-empty provider names, as CUSTOM policies give them)`);
    const provider: AuthorizationProvider | undefined = typeof value === 'function' ? { check: value } : value !== null && typeof value === 'object' ? value : undefined;
    if (provider === undefined || typeof provider.check !== 'function') {
      problems.push(`${at}: ${formatValue(value)} (expected: a check function, or { check: function, timeout?, failOpen?, statusOnError? })`);
      continue;
    }
    const timeout = provider.timeout ?? DEFAULT_PROVIDER_TIMEOUT_MS;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0 || timeout > MAX_TIMER_MS) problems.push(`${at}.timeout: ${formatValue(provider.timeout)} (expected: milliseconds, > 0 and <= ${MAX_TIMER_MS})`);
    if (provider.failOpen !== undefined && typeof provider.failOpen !== 'boolean') problems.push(`${at}.failOpen: ${formatValue(provider.failOpen)} (expected: true or false)`);
    const status = provider.statusOnError ?? 403;
    if (!Number.isInteger(status) || status < 200 || status > 599) problems.push(`${at}.statusOnError: ${formatValue(provider.statusOnError)} (expected: an HTTP status, 200..599)`);
    out.set(name, { name, check: provider.check, timeout, failOpen: provider.failOpen ?? false, statusOnError: status });
  }
  if (problems.length > 0) throw new InvalidOptionError(where, problems);
  return out;
}

/** A provider's allowance. */
export interface ProviderAllowance {
  /** Allowed. */
  readonly allowed: true;
  /** The provider's name. */
  readonly provider: string;
  /** Headers to set on the request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The failure that was let through (`failOpen`). */
  readonly error?: unknown;
}

/** A provider's denial. */
export interface ProviderDenial {
  /** Denied. */
  readonly allowed: false;
  /** The provider's name. */
  readonly provider: string;
  /** The response status. */
  readonly status: number;
  /** The response body. */
  readonly body: string;
  /** Response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The failure behind the denial, if one. */
  readonly error?: unknown;
}

/** The outcome of asking a provider. */
export type ProviderOutcome = ProviderAllowance | ProviderDenial;

function fromVerdict(provider: ResolvedProvider, verdict: AuthorizationVerdict): ProviderOutcome {
  if (verdict === true) return { allowed: true, provider: provider.name };
  if (verdict === false) return { allowed: false, provider: provider.name, status: 403, body: '' };
  if (verdict !== null && typeof verdict === 'object' && verdict.allow === true) return { allowed: true, provider: provider.name, ...(verdict.headers && { headers: verdict.headers }) };
  if (verdict !== null && typeof verdict === 'object' && verdict.allow === false) {
    const status = Number.isInteger(verdict.status) && verdict.status! >= 200 && verdict.status! <= 599 ? verdict.status! : 403;
    return { allowed: false, provider: provider.name, status, body: typeof verdict.body === 'string' ? verdict.body : '', ...(verdict.headers && { headers: verdict.headers }) };
  }
  throw new TypeError(`provider "${provider.name}" answered ${formatValue(verdict)} (expected: true, false, { allow: true } or { allow: false, status?, body? })`);
}

function failed(provider: ResolvedProvider, error: unknown): ProviderOutcome {
  return provider.failOpen ? { allowed: true, provider: provider.name, error } : { allowed: false, provider: provider.name, status: provider.statusOnError, body: '', error };
}

/**
 * Asks a provider, bounded by its timeout. A provider that throws, rejects, answers
 * something else than a verdict, or does not answer in time fails: denied with
 * `statusOnError`, or allowed when `failOpen`; the outcome carries the error.
 */
export async function askProvider(provider: ResolvedProvider, req: AuthzRequest): Promise<ProviderOutcome> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`authorization provider "${provider.name}" did not answer within ${provider.timeout} ms`);
      controller.abort(error);
      reject(error);
    }, provider.timeout);
  });
  try {
    const verdict = await Promise.race([Promise.resolve().then(() => provider.check(req, { provider: provider.name, signal: controller.signal })), timedOut]);
    return fromVerdict(provider, verdict);
  } catch (error) {
    return failed(provider, error);
  } finally {
    clearTimeout(timer);
  }
}
