import { parseDuration } from '../core/duration.js';
import { fetchUriProblem } from './jwks-fetch.js';
import { InlineKeys, JWKS_DEFAULTS, type JwksCache, type KeySource, type RemoteKeys, type RemoteKeysLocation } from './jwks-source.js';
import { findTokens, isCorsPreflight, tokenLocations, type FoundToken, type TokenLocation, type TokenRequest } from './jwt-location.js';
import { normalizeAudience, TOKEN_PROBLEM_TEXT, verifyToken, type TokenPayload, type TokenProblem, type TokenRule } from './jwt-verify.js';
import { applicable, DEFAULT_ROOT_NAMESPACE, hasTargetRefs, targetRefsFinding } from './policy-scope.js';
import type { ClaimValue, RequestAuth } from './request-view.js';
import type { JwtRuleSpec, RequestAuthenticationResource, SecurityFinding, SecurityWorkload } from './types.js';

/**
 * RequestAuthentication for this workload, as Istio configures Envoy's JWT filter
 * (istio/istio pilot/pkg/security/authn/policy_applier.go convertToEnvoyJwtConfig): every
 * `jwtRules` entry of every applicable policy is a provider, and a request
 *
 * - with no token in any provider's locations passes, with no request principal (an
 *   AuthorizationPolicy may then require one);
 * - passes when some provider verifies every token found in its own locations;
 * - otherwise gets 401 (bad signature, expired, not yet valid, issuer or audience not
 *   allowed, unparseable, keys unavailable).
 *
 * CORS preflights pass unchecked. On success the request principal is `<iss>/<sub>`;
 * `outputClaimToHeaders` and `outputPayloadToHeader` give headers to set, and the token's
 * header is removed unless `forwardOriginalToken`. The headers the rules output are
 * always removed from requests first, so a client cannot send its own (Istio does so).
 *
 * @module
 */

/** The outcome of checking a request's tokens. */
export type JwtOutcome =
  | {
      /** The request goes on. */
      readonly ok: true;
      /** The validated token, for authorization; undefined when the request had none. */
      readonly auth: RequestAuth | undefined;
      /** Headers to set on the request, in order (after removing `headersToRemove`). */
      readonly headersToSet: readonly (readonly [string, string])[];
      /** Lower-case headers to remove from the request. */
      readonly headersToRemove: readonly string[];
      /** The rule that verified the token (`namespace/name jwtRules[i]`). */
      readonly rule?: string;
    }
  | {
      /** The request is refused. */
      readonly ok: false;
      /** The status to answer with. */
      readonly status: 401;
      /** Why, in words (the response body). */
      readonly message: string;
      /** Why, as a code. */
      readonly problem: TokenProblem;
      /** Response headers (`www-authenticate`). */
      readonly headers: Readonly<Record<string, string>>;
      /** The first rule that tried the token. */
      readonly rule: string;
    };

interface CompiledJwtRule extends TokenRule {
  readonly id: string;
  readonly locations: readonly TokenLocation[];
  readonly claimHeaders: readonly { readonly header: string; readonly path: readonly string[] }[];
  readonly payloadHeader: string | undefined;
  readonly forward: boolean;
  readonly spaceDelimited: ReadonlySet<string>;
}

/** Istio's space-delimited claims, always. */
const DEFAULT_SPACE_DELIMITED = ['scope', 'permission'];

/** Header values a claim may become (no control characters but tab). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function claimAt(payload: TokenPayload, path: readonly string[]): unknown {
  let value: unknown = payload;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Applicable RequestAuthentications, compiled. */
export class RequestAuthenticator {
  private readonly rules: readonly CompiledJwtRule[];
  private readonly pass: JwtOutcome;

  /** @internal built by {@link compileRequestAuthentication} */
  constructor(rules: readonly CompiledJwtRule[]) {
    this.rules = rules;
    const sanitized = new Set<string>();
    for (const rule of rules) {
      for (const h of rule.claimHeaders) sanitized.add(h.header);
      if (rule.payloadHeader !== undefined) sanitized.add(rule.payloadHeader);
    }
    this.pass = Object.freeze({ ok: true, auth: undefined, headersToSet: Object.freeze([]), headersToRemove: Object.freeze([...sanitized]) });
  }

  /** Whether any JWT rule applies (without any, every request passes unchanged). */
  get active(): boolean {
    return this.rules.length > 0;
  }

  /** The rule ids (`namespace/name jwtRules[i]`), in order. */
  get ruleIds(): readonly string[] {
    return this.rules.map((r) => r.id);
  }

  /**
   * Checks the request's tokens (see the module comment). A request without a token
   * resolves with one shared outcome, built in advance.
   */
  async authenticate(req: TokenRequest): Promise<JwtOutcome> {
    if (this.rules.length === 0 || isCorsPreflight(req)) return this.pass;
    let found: (FoundToken[] | undefined)[] | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const tokens = findTokens(req, this.rules[i]!.locations);
      if (tokens !== undefined) (found ??= new Array(this.rules.length))[i] = tokens;
    }
    if (found === undefined) return this.pass;
    let firstFailure: { problem: TokenProblem; detail?: string; rule: string } | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      const tokens = found[i];
      if (tokens === undefined) continue;
      const rule = this.rules[i]!;
      let payload: TokenPayload | undefined;
      for (const { token } of tokens) {
        const result = await verifyToken(token, rule);
        if (!result.ok) {
          firstFailure ??= { problem: result.problem, ...(result.detail !== undefined && { detail: result.detail }), rule: rule.id };
          payload = undefined;
          break;
        }
        payload ??= result.payload;
      }
      if (payload !== undefined) return this.success(rule, tokens, payload);
    }
    const failure = firstFailure!;
    return {
      ok: false,
      status: 401,
      problem: failure.problem,
      message: TOKEN_PROBLEM_TEXT[failure.problem],
      headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
      rule: failure.rule,
    };
  }

  private success(rule: CompiledJwtRule, tokens: readonly FoundToken[], payload: TokenPayload): JwtOutcome {
    const claims: Record<string, ClaimValue> = { ...(payload as Record<string, ClaimValue>) };
    for (const name of rule.spaceDelimited) {
      const value = claims[name];
      if (typeof value === 'string') claims[name] = value.split(' ').filter((part) => part !== '');
    }
    const headersToSet: [string, string][] = [];
    for (const { header, path } of rule.claimHeaders) {
      const value = claimAt(payload, path);
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') continue;
      const text = String(value);
      if (HEADER_VALUE.test(text)) headersToSet.push([header, text]);
    }
    if (rule.payloadHeader !== undefined) headersToSet.push([rule.payloadHeader, tokens[0]!.token.split('.')[1]!]);
    const removed = new Set(this.pass.ok ? this.pass.headersToRemove : []);
    if (!rule.forward) for (const { location } of tokens) if (location.kind === 'header') removed.add(location.name);
    const principal = `${typeof payload.iss === 'string' ? payload.iss : ''}/${typeof payload.sub === 'string' ? payload.sub : ''}`;
    return { ok: true, auth: { principal, claims }, headersToSet, headersToRemove: [...removed], rule: rule.id };
  }
}

/** Options of {@link compileRequestAuthentication}. */
export interface CompileRequestAuthenticationOptions {
  /** Istio's root namespace. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Remote key sets, shared across config versions (required for rules with `jwksUri`). */
  readonly jwks?: JwksCache;
}

/** RequestAuthentications compiled for a workload, and what compiling found. */
export interface CompiledRequestAuthentication {
  /** The authenticator. */
  readonly authenticator: RequestAuthenticator;
  /** The remote key sets the rules use (give them to {@link JwksCache.retain}). */
  readonly remoteKeys: ReadonlySet<RemoteKeys>;
  /** What compiling found. */
  readonly findings: readonly SecurityFinding[];
}

/** A rule's fetch timeout in ms; throws for one validation would refuse. */
function timeoutMs(value: string | number | undefined): number {
  if (value === undefined) return JWKS_DEFAULTS.timeoutMs;
  const parsed = typeof value === 'number' ? { ms: value } : parseDuration(value);
  if ('problem' in parsed) throw new Error(`timeout ${JSON.stringify(value)}: ${parsed.problem}`);
  // At least 1 ms (Istio's bound) and at most what a timer can wait.
  if (!(parsed.ms >= 1 && parsed.ms <= 2 ** 31 - 1)) throw new Error(`timeout ${JSON.stringify(value)} is out of range (1 ms .. 24 days)`);
  return parsed.ms;
}

/** Keys that refuse every token (Istio's fallback when a rule's keys cannot be had). */
function noKeys(message: string): KeySource {
  return { resolver: () => Promise.reject(new Error(message)), refreshForUnknownKey: () => Promise.resolve(undefined) };
}

function keysFor(spec: JwtRuleSpec, at: string, where: string, options: CompileRequestAuthenticationOptions, remoteKeys: Set<RemoteKeys>, findings: SecurityFinding[]): KeySource {
  const uri = spec.jwksUri ?? spec.jwks_uri;
  const field = spec.jwksUri !== undefined ? 'jwksUri' : 'jwks_uri';
  if (spec.jwks !== undefined && spec.jwks !== '') {
    try {
      return new InlineKeys(spec.jwks);
    } catch (error) {
      const message = `the inline key set cannot be read (${(error as Error).message}); every token this rule finds is refused`;
      findings.push({ severity: 'error', where, path: `${at}.jwks`, message });
      return noKeys(message);
    }
  }
  const remote = (location: RemoteKeysLocation, path: string): KeySource => {
    const problem = fetchUriProblem('jwksUri' in location ? location.jwksUri : location.issuer);
    if (problem !== undefined) {
      const message = `${problem}; every token this rule finds is refused`;
      findings.push({ severity: 'warning', where, path, message });
      return noKeys(message);
    }
    if (options.jwks === undefined) throw new Error('no JwksCache was given to fetch key sets with');
    const keys = options.jwks.get(location, timeoutMs(spec.timeout));
    remoteKeys.add(keys);
    return keys;
  };
  if (uri !== undefined && uri !== '') return remote({ jwksUri: uri }, `${at}.${field}`);
  // No keys: Istio asks the issuer's OpenID discovery document for its jwks_uri.
  if (spec.issuer !== undefined && spec.issuer !== '') return remote({ issuer: spec.issuer }, `${at}.issuer`);
  const message = 'no jwks, jwksUri or issuer to find keys with; every token this rule finds is refused';
  findings.push({ severity: 'warning', where, path: at, message });
  return noKeys(message);
}

function compileRule(spec: JwtRuleSpec, id: string, at: string, where: string, options: CompileRequestAuthenticationOptions, remoteKeys: Set<RemoteKeys>, findings: SecurityFinding[]): CompiledJwtRule {
  return {
    id,
    issuer: spec.issuer === '' ? undefined : spec.issuer,
    audiences: new Set((spec.audiences ?? []).map(normalizeAudience)),
    keys: keysFor(spec, at, where, options, remoteKeys, findings),
    locations: tokenLocations(spec),
    claimHeaders: (spec.outputClaimToHeaders ?? []).map((c) => ({ header: c.header.toLowerCase(), path: c.claim.split('.') })),
    payloadHeader: spec.outputPayloadToHeader === undefined || spec.outputPayloadToHeader === '' ? undefined : spec.outputPayloadToHeader.toLowerCase(),
    forward: spec.forwardOriginalToken === true,
    spaceDelimited: new Set([...DEFAULT_SPACE_DELIMITED, ...(spec.spaceDelimitedClaims ?? [])]),
  };
}

/**
 * Compiles the RequestAuthentications that apply to `workload` (root namespace and its
 * own, selector matching its labels, no targetRefs). A rule whose keys cannot be had
 * stays, refusing every token it finds (as Istio's fallback key set does): an error
 * finding for inline keys that cannot be read (validation refuses them), a warning for a
 * URI keys are never fetched from or a rule with nothing to find keys with.
 */
export function compileRequestAuthentication(resources: readonly RequestAuthenticationResource[], workload: SecurityWorkload, options: CompileRequestAuthenticationOptions = {}): CompiledRequestAuthentication {
  const findings: SecurityFinding[] = [];
  const remoteKeys = new Set<RemoteKeys>();
  const rules: CompiledJwtRule[] = [];
  for (const resource of resources) {
    if (hasTargetRefs(resource.spec ?? {})) findings.push(targetRefsFinding(resource.spec, `RequestAuthentication/${resource.metadata.namespace ?? workload.namespace}/${resource.metadata.name}`));
  }
  for (const { resource, namespace, id } of applicable(resources, workload, options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE)) {
    const where = `RequestAuthentication/${namespace}/${resource.metadata.name}`;
    (resource.spec.jwtRules ?? []).forEach((spec, i) => {
      const at = `spec.jwtRules[${i}]`;
      try {
        rules.push(compileRule(spec, `${id} jwtRules[${i}]`, at, where, options, remoteKeys, findings));
      } catch (error) {
        // Only a rule validation would refuse gets here: it stays, refusing every token it finds.
        findings.push({ severity: 'error', where, path: at, message: `cannot be compiled: ${error instanceof Error ? error.message : String(error)}` });
      }
    });
  }
  return { authenticator: new RequestAuthenticator(rules), remoteKeys, findings };
}
