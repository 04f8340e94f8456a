import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { KeyResolver, KeySource } from './jwks-source.js';
import { MAX_TOKEN_LENGTH } from './jwt-location.js';

/**
 * Verifying one token against one JWT rule, in the order Envoy's JWT filter checks:
 * the token's form, its issuer, its audiences, its time window (60 s of clock skew either
 * way, Envoy's default), then its signature with the rule's keys. An unknown key id asks
 * the key source for fresh keys once; several keys without ids are tried in turn.
 *
 * @module
 */

/** Envoy's default clock skew allowance for `exp` and `nbf`, seconds. */
export const CLOCK_SKEW_SECONDS = 60;

/** Why a token was refused. */
export type TokenProblem = 'malformed' | 'too-large' | 'issuer' | 'audience' | 'expired' | 'not-yet-valid' | 'no-key' | 'keys-unavailable' | 'signature' | 'algorithm';

/** The words of each problem (the 401 body says them). */
export const TOKEN_PROBLEM_TEXT: Readonly<Record<TokenProblem, string>> = {
  malformed: 'Jwt is malformed: not three base64url parts with a JSON header and payload',
  'too-large': `Jwt is larger than ${MAX_TOKEN_LENGTH} bytes`,
  issuer: 'Jwt issuer is not one this workload accepts',
  audience: 'Jwt audiences are not among the allowed ones',
  expired: 'Jwt has expired',
  'not-yet-valid': 'Jwt is not valid yet',
  'no-key': 'Jwt key id or algorithm matches no key of the issuer',
  'keys-unavailable': 'Jwt issuer keys could not be fetched',
  signature: 'Jwt signature does not verify',
  algorithm: 'Jwt algorithm is not supported for its key',
};

/** What a rule checks besides the signature. */
export interface TokenRule {
  /** The issuer a token must name (`iss`), or any. */
  readonly issuer: string | undefined;
  /** Allowed audiences, normalised (see {@link normalizeAudience}); empty: no audience check. */
  readonly audiences: ReadonlySet<string>;
  /** The keys. */
  readonly keys: KeySource;
}

/** The outcome of verifying a token. */
export type TokenResult =
  | {
      /** Valid. */
      readonly ok: true;
      /** Its payload (the claims). */
      readonly payload: TokenPayload;
    }
  | {
      /** Refused. */
      readonly ok: false;
      /** Why. */
      readonly problem: TokenProblem;
      /** More about it. */
      readonly detail?: string;
    };

/** A token's payload: its claims (`iss`, `sub`, `aud`, `exp`, ... and any others). */
export type TokenPayload = Readonly<Record<string, unknown>> & { readonly iss?: string; readonly sub?: string; readonly aud?: string | readonly string[]; readonly exp?: number; readonly nbf?: number };

/** An audience without `http://`/`https://` and a trailing `/`, as Envoy compares audiences. */
export function normalizeAudience(audience: string): string {
  let value = audience;
  if (value.startsWith('http://')) value = value.slice(7);
  else if (value.startsWith('https://')) value = value.slice(8);
  return value.endsWith('/') ? value.slice(0, -1) : value;
}

function fail(problem: TokenProblem, detail?: string): TokenResult {
  return detail === undefined ? { ok: false, problem } : { ok: false, problem, detail };
}

function audienceAllowed(payload: JWTPayload, allowed: ReadonlySet<string>): boolean {
  if (allowed.size === 0) return true;
  const aud = payload.aud;
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
  return list.some((a) => typeof a === 'string' && allowed.has(normalizeAudience(a)));
}

function problemOf(error: unknown): TokenResult {
  if (error instanceof joseErrors.JWTExpired) return fail('expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) return fail(error.claim === 'nbf' ? 'not-yet-valid' : 'malformed', error.message);
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return fail('signature');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return fail('no-key');
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return fail('algorithm', (error as Error).message);
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return fail('malformed', (error as Error).message);
  // A key that does not suit the algorithm (an RSA key for ES256) surfaces as a TypeError.
  return fail('signature', error instanceof Error ? error.message : String(error));
}

async function verifyWith(token: string, keys: KeyResolver): Promise<TokenResult> {
  try {
    const { payload } = await jwtVerify(token, keys as unknown as JWTVerifyGetKey, { clockTolerance: CLOCK_SKEW_SECONDS });
    return { ok: true, payload: payload as TokenPayload };
  } catch (error) {
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys) {
      // Several keys fit (no key id): the token is good if one of them verifies it.
      let last: TokenResult = fail('signature');
      for await (const key of error) {
        try {
          const { payload } = await jwtVerify(token, key, { clockTolerance: CLOCK_SKEW_SECONDS });
          return { ok: true, payload: payload as TokenPayload };
        } catch (inner) {
          last = problemOf(inner);
        }
      }
      return last;
    }
    return problemOf(error);
  }
}

/** Verifies `token` against `rule` (see the module comment). */
export async function verifyToken(token: string, rule: TokenRule, nowSeconds = Date.now() / 1000): Promise<TokenResult> {
  if (token.length > MAX_TOKEN_LENGTH) return fail('too-large');
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
  } catch (error) {
    return fail('malformed', error instanceof Error ? error.message : undefined);
  }
  if (rule.issuer !== undefined && payload.iss !== rule.issuer) return fail('issuer', `iss ${JSON.stringify(payload.iss ?? null)}`);
  if (!audienceAllowed(payload, rule.audiences)) return fail('audience', `aud ${JSON.stringify(payload.aud ?? null)}`);
  if (typeof payload.exp === 'number' && payload.exp + CLOCK_SKEW_SECONDS <= nowSeconds) return fail('expired');
  if (typeof payload.nbf === 'number' && payload.nbf - CLOCK_SKEW_SECONDS > nowSeconds) return fail('not-yet-valid');
  let keys: KeyResolver;
  try {
    keys = await rule.keys.resolver();
  } catch (error) {
    return fail('keys-unavailable', error instanceof Error ? error.message : String(error));
  }
  const result = await verifyWith(token, keys);
  if (result.ok || result.problem !== 'no-key') return result;
  // The issuer may have rotated its keys since we fetched them.
  const fresh = await rule.keys.refreshForUnknownKey();
  return fresh === undefined ? result : verifyWith(token, fresh);
}
