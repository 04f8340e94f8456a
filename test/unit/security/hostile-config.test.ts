import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../../src/core/errors/index.js';
import { compileSecurity, JwksCache, type SecurityResources } from '../../../src/security/index.js';
import { request } from './security-helpers.js';

/**
 * Whatever reaches the compiler (a resource given in code, or one a loader let through),
 * it compiles or fails with a config error naming the resource: never a crash, never a
 * decision made from a value it could not read.
 */

const WORKLOAD = { namespace: 'foo', labels: { app: 'a' } };

const VALID: SecurityResources = {
  peerAuthentications: [{ metadata: { name: 'pa', namespace: 'foo' }, spec: { selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } } }],
  authorizationPolicies: [
    {
      metadata: { name: 'ap', namespace: 'foo' },
      spec: {
        action: 'DENY',
        rules: [{ from: [{ source: { principals: ['a'], notIpBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { paths: ['/x'], ports: ['80'] } }], when: [{ key: 'request.headers[x]', values: ['y'] }] }],
      },
    },
  ],
  requestAuthentications: [{ metadata: { name: 'ra', namespace: 'foo' }, spec: { jwtRules: [{ issuer: 'https://i', jwks: '{"keys":[]}', fromHeaders: [{ name: 'x-t', prefix: 'B ' }], outputClaimToHeaders: [{ header: 'x-c', claim: 'c' }] }] } }],
};

/** Every path to a value inside `value`. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [at];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [at, ...entries.flatMap(([k, v]) => paths(v, [...at, k]))];
}

function replaced(root: unknown, path: (string | number)[], junk: unknown): unknown {
  if (path.length === 0) return junk;
  const copy = Array.isArray(root) ? [...root] : { ...(root as object) };
  (copy as Record<string | number, unknown>)[path[0]!] = replaced((root as Record<string | number, unknown>)[path[0]!], path.slice(1), junk);
  return copy;
}

function compiles(resources: SecurityResources): void {
  const jwks = new JwksCache({ fetch: (() => Promise.reject(new Error('no fetch in this test'))) as never });
  try {
    const compiled = compileSecurity(resources, { workload: WORKLOAD, jwks });
    // What compiled also decides without throwing.
    compiled.authorizer.decide(request());
    compiled.peerAuthentication.mode(8080);
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    expect(error.problems.length).toBeGreaterThan(0);
    for (const line of error.problems) expect(line).toMatch(/^(PeerAuthentication|AuthorizationPolicy|RequestAuthentication)\//);
  } finally {
    jwks.close();
  }
}

describe('hostile config', () => {
  it('the valid resources compile', () => {
    expect(() => compileSecurity(VALID, { workload: WORKLOAD })).not.toThrow();
  });

  it('property: any value anywhere in a valid resource compiles or is a config error naming the resource', () => {
    const targets = (['peerAuthentications', 'authorizationPolicies', 'requestAuthentications'] as const).flatMap((kind) => paths(VALID[kind]![0]).map((path) => ({ kind, path })));
    fc.assert(
      fc.property(fc.constantFrom(...targets), fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.constant(null), fc.constant(Number.NaN), fc.constant(() => 1)), ({ kind, path }, junk) => {
        compiles({ ...VALID, [kind]: [replaced(VALID[kind]![0], path, junk)] });
      }),
      { numRuns: 1500 },
    );
  });

  it('property: arbitrary values as whole resources', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 3 }), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.array(fc.jsonValue(), { maxLength: 3 }), (a, b, c) => {
        compiles({ peerAuthentications: a as never, authorizationPolicies: b as never, requestAuthentications: c as never });
      }),
      { numRuns: 500 },
    );
  });

  it('names the field: a mode that is not one, a rules entry that is null', () => {
    const error = (() => {
      try {
        compileSecurity({ peerAuthentications: [{ metadata: { name: 'x', namespace: 'foo' }, spec: { mtls: { mode: 'strict' as never } } }], authorizationPolicies: [{ metadata: { name: 'y' }, spec: { rules: [null as never] } }, { metadata: { name: 'z' }, spec: { action: 'DENY', rules: [{ when: [{ values: ['a'] } as never] }] } }] }, { workload: WORKLOAD });
      } catch (e) {
        return e as InvalidConfigError;
      }
      throw new Error('no error');
    })();
    expect(error.problems).toEqual([
      'PeerAuthentication/foo/x: spec.mtls.mode: "strict" (expected: one of UNSET, DISABLE, PERMISSIVE, STRICT)',
      'AuthorizationPolicy/y: spec.rules[0]: null (expected: an entry)',
      // Without the check, a DENY rule whose condition has no key would deny more than it says.
      'AuthorizationPolicy/z: spec.rules[0].when[0].key: nothing (expected: a value)',
    ]);
  });
});
