/**
 * Inline JSON Web Key Sets (RequestAuthentication `jwks`) checked as Istio checks them
 * with a JWK parser: a set `{"keys": [...]}` or a single key, each key of a known type
 * with its required members in base64url (RFC 7517, 7518, 8037). Our own checks; the
 * keys are not imported here.
 *
 * @module
 */

const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/** The members each key type needs (RFC 7518 §6, RFC 8037 §2). */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  oct: ['k'],
  OKP: ['crv', 'x'],
};
const BINARY = new Set(['n', 'e', 'x', 'y', 'k', 'd']);

function keysOf(text: string): { keys: unknown[] } | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  const keys = (value as { keys?: unknown }).keys;
  if (keys === undefined) return { keys: [value] };
  if (!Array.isArray(keys)) return '"keys" is not a list';
  return { keys };
}

/** Why `text` is not a JWK set, or undefined. */
export function jwksProblem(text: string): string | undefined {
  const parsed = keysOf(text);
  if (typeof parsed === 'string') return parsed;
  for (let i = 0; i < parsed.keys.length; i++) {
    const key = parsed.keys[i] as Record<string, unknown> | null;
    if (key === null || typeof key !== 'object' || Array.isArray(key)) return `key ${i} is not an object`;
    const kty = key.kty;
    if (typeof kty !== 'string' || REQUIRED[kty] === undefined) return `key ${i} has no known "kty" (RSA, EC, oct, OKP)`;
    for (const member of REQUIRED[kty]!) {
      if (typeof key[member] !== 'string') return `key ${i} (${kty}) has no "${member}"`;
    }
    for (const member of Object.keys(key)) {
      if (BINARY.has(member) && typeof key[member] === 'string' && !BASE64URL.test(key[member] as string)) return `key ${i} has a "${member}" that is not base64url`;
    }
  }
  return undefined;
}

/** Positions of keys in a valid set that hold private material (`d`, or a symmetric `oct` key). */
export function jwksPrivateKeys(text: string): number[] {
  const parsed = keysOf(text);
  if (typeof parsed === 'string') return [];
  const out: number[] = [];
  parsed.keys.forEach((key, i) => {
    const k = key as Record<string, unknown>;
    if (k.kty === 'oct' || k.d !== undefined) out.push(i);
  });
  return out;
}
