import { createPublicKey } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { MAX_TOKEN_LENGTH } from '../../../src/security/jwt-location.js';
import { compileRequestAuthentication, JwksCache, type JwtOutcome, type RequestAuthenticationResource } from '../../../src/security/index.js';
import { jwksOf, sign, startJwksServer, testKey, tokenRequest, type JwksServer, type TestKey } from './jwt-test-kit.js';

/**
 * RequestAuthentication against real key sets: keys made at test time, a JWKS served by a
 * real local HTTP server (and one given inline), tokens signed with jose.
 */

const WORKLOAD = { namespace: 'foo', labels: { app: 'httpbin' } };
const ISSUER = 'https://issuer.example.com';

function ra(jwtRules: RequestAuthenticationResource['spec']['jwtRules'], name = 'jwt', namespace = 'foo'): RequestAuthenticationResource {
  return { kind: 'RequestAuthentication', metadata: { name, namespace }, spec: { jwtRules } };
}

let key: TestKey;
let other: TestKey;
let server: JwksServer;
const caches: JwksCache[] = [];

beforeAll(async () => {
  key = await testKey('RS256');
  other = await testKey('ES256');
  server = await startJwksServer(jwksOf(key));
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  for (const cache of caches.splice(0)) cache.close();
});

function authenticator(rules: RequestAuthenticationResource[], cacheOptions: ConstructorParameters<typeof JwksCache>[0] = {}) {
  const cache = new JwksCache(cacheOptions);
  caches.push(cache);
  const compiled = compileRequestAuthentication(rules, WORKLOAD, { jwks: cache });
  expect(compiled.findings).toEqual([]);
  return compiled.authenticator;
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });
const failure = (outcome: JwtOutcome): string | undefined => (outcome.ok ? undefined : outcome.problem);

describe('RequestAuthentication with a fetched JWKS', () => {
  const rule = () => ra([{ issuer: ISSUER, jwksUri: server.url, outputClaimToHeaders: [{ header: 'x-jwt-group', claim: 'group' }, { header: 'x-jwt-tier', claim: 'plan.tier' }] }]);

  it('a valid token passes with principal <iss>/<sub>, its claims, claim headers set and the token header removed', async () => {
    const auth = authenticator([rule()]);
    const token = await sign(key, { iss: ISSUER, sub: 'user-1', group: 'admins', plan: { tier: 3 }, scope: 'read write' });
    const outcome = await auth.authenticate(tokenRequest({ ...bearer(token), 'x-jwt-group': 'spoofed' }));
    expect(outcome).toMatchObject({ ok: true, rule: 'foo/jwt jwtRules[0]', auth: { principal: `${ISSUER}/user-1` } });
    if (!outcome.ok) throw new Error('unreachable');
    expect(outcome.auth!.claims.scope).toEqual(['read', 'write']);
    expect(outcome.headersToSet).toEqual([['x-jwt-group', 'admins'], ['x-jwt-tier', '3']]);
    expect([...outcome.headersToRemove].sort()).toEqual(['authorization', 'x-jwt-group', 'x-jwt-tier']);
  });

  it('no token passes with no principal, and the claim headers a client sent are removed', async () => {
    const outcome = await authenticator([rule()]).authenticate(tokenRequest({ 'x-jwt-group': 'admins' }));
    expect(outcome).toEqual({ ok: true, auth: undefined, headersToSet: [], headersToRemove: ['x-jwt-group', 'x-jwt-tier'] });
  });

  it('bad tokens get 401 naming why', async () => {
    const auth = authenticator([ra([{ issuer: ISSUER, jwksUri: server.url, audiences: ['bookstore.example.com'] }])]);
    const now = Math.floor(Date.now() / 1000);
    const aud = 'bookstore.example.com';
    const impostor = await testKey('RS256', key.kid);
    const cases: Array<[string, string, string]> = [
      ['expired beyond the 60 s of skew', await sign(key, { iss: ISSUER, sub: 'u', aud, exp: now - 61 }), 'expired'],
      ['not valid for another 2 minutes', await sign(key, { iss: ISSUER, sub: 'u', aud, nbf: now + 120 }), 'not-yet-valid'],
      ['another issuer', await sign(key, { iss: 'https://evil.example.com', sub: 'u', aud }), 'issuer'],
      ['another audience', await sign(key, { iss: ISSUER, sub: 'u', aud: 'other' }), 'audience'],
      ['no audience', await sign(key, { iss: ISSUER, sub: 'u' }), 'audience'],
      ['signed by a key the issuer does not publish, with its key id', await sign(impostor, { iss: ISSUER, sub: 'u', aud }), 'signature'],
      ['an algorithm no published key has', await sign({ ...other, kid: key.kid }, { iss: ISSUER, sub: 'u', aud }), 'no-key'],
      ['not a token', 'abc.def', 'malformed'],
      ['alg none', new UnsecuredJWT({ iss: ISSUER, sub: 'u', aud }).encode(), 'algorithm'],
    ];
    for (const [what, token, problem] of cases) {
      const outcome = await auth.authenticate(tokenRequest(bearer(token)));
      expect(failure(outcome), what).toBe(problem);
      expect(outcome).toMatchObject({ status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });
    }
    // Within the skew it still passes.
    expect((await auth.authenticate(tokenRequest(bearer(await sign(key, { iss: ISSUER, sub: 'u', aud, exp: now - 30 }))))).ok).toBe(true);
  });

  it('an HS256 token signed with the public key as the secret (algorithm confusion) is refused', async () => {
    const auth = authenticator([rule()]);
    const pem = createPublicKey({ key: key.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    const forged = await new SignJWT({ iss: ISSUER, sub: 'admin' }).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(new TextEncoder().encode(pem as string));
    expect((await auth.authenticate(tokenRequest(bearer(forged)))).ok).toBe(false);
  });

  it('a token over the size bound is refused without being parsed', async () => {
    const auth = authenticator([rule()]);
    const huge = `${base64url.encode('{"alg":"RS256"}')}.${'a'.repeat(MAX_TOKEN_LENGTH)}.sig`;
    expect(failure(await auth.authenticate(tokenRequest(bearer(huge))))).toBe('too-large');
  });

  it('audiences compare without scheme and trailing slash, as Envoy does', async () => {
    const auth = authenticator([ra([{ issuer: ISSUER, jwksUri: server.url, audiences: ['https://api.example.com/'] }])]);
    expect((await auth.authenticate(tokenRequest(bearer(await sign(key, { iss: ISSUER, sub: 'u', aud: ['x', 'api.example.com'] }))))).ok).toBe(true);
  });

  it('the keys are fetched once for many tokens', async () => {
    const before = server.hits;
    const auth = authenticator([rule()]);
    const tokens = await Promise.all([1, 2, 3, 4, 5].map((i) => sign(key, { iss: ISSUER, sub: `u${i}` })));
    const outcomes = await Promise.all(tokens.map((t) => auth.authenticate(tokenRequest(bearer(t)))));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(server.hits - before).toBe(1);
  });
});

describe('token locations', () => {
  it('fromHeaders with a prefix (case-insensitive), fromParams, fromCookies; the default is Authorization: Bearer and access_token', async () => {
    const inline = jwksOf(key);
    const token = await sign(key, { iss: ISSUER, sub: 'u' });
    const custom = authenticator([ra([{ issuer: ISSUER, jwks: inline, fromHeaders: [{ name: 'X-Jwt-Assertion', prefix: 'Token ' }], fromParams: ['my_token'], fromCookies: ['session'] }])]);
    expect((await custom.authenticate(tokenRequest({ 'x-jwt-assertion': `token ${token}` }))).ok).toBe(true);
    expect((await custom.authenticate(tokenRequest({}, `/path?a=1&my_token=${token}`))).ok).toBe(true);
    expect((await custom.authenticate(tokenRequest({ cookie: `a=b; session=${token}` }))).ok).toBe(true);
    // Not where this rule looks: no token at all, so the request passes without a principal.
    expect(await custom.authenticate(tokenRequest(bearer(token)))).toMatchObject({ ok: true, auth: undefined });
    // A header without the prefix is not a token of this rule.
    expect(await custom.authenticate(tokenRequest({ 'x-jwt-assertion': token }))).toMatchObject({ ok: true, auth: undefined });
    const defaults = authenticator([ra([{ issuer: ISSUER, jwks: inline }])]);
    expect(await defaults.authenticate(tokenRequest({}, `/?access_token=${token}`))).toMatchObject({ ok: true, auth: { principal: `${ISSUER}/u` } });
    expect(await defaults.authenticate(tokenRequest({ authorization: `bearer ${token}` }))).toMatchObject({ ok: true, auth: { principal: `${ISSUER}/u` } });
  });

  it('forwardOriginalToken keeps the header; outputPayloadToHeader sets the payload as sent', async () => {
    const token = await sign(key, { iss: ISSUER, sub: 'u' });
    const auth = authenticator([ra([{ issuer: ISSUER, jwks: jwksOf(key), forwardOriginalToken: true, outputPayloadToHeader: 'x-jwt-payload' }])]);
    const outcome = await auth.authenticate(tokenRequest(bearer(token)));
    expect(outcome).toMatchObject({ ok: true, headersToSet: [['x-jwt-payload', token.split('.')[1]]] });
    expect(outcome.ok && outcome.headersToRemove).toEqual(['x-jwt-payload']);
  });

  it('a CORS preflight passes unchecked, even with a bad token', async () => {
    const auth = authenticator([ra([{ issuer: ISSUER, jwks: jwksOf(key) }])]);
    expect((await auth.authenticate(tokenRequest({ ...bearer('bad'), origin: 'https://x', 'access-control-request-method': 'POST' }, '/', 'OPTIONS'))).ok).toBe(true);
    expect((await auth.authenticate(tokenRequest(bearer('bad'), '/', 'OPTIONS'))).ok).toBe(false);
  });

  it('claim values that cannot be header values are not set', async () => {
    const auth = authenticator([ra([{ issuer: ISSUER, jwks: jwksOf(key), outputClaimToHeaders: [{ header: 'x-a', claim: 'a' }, { header: 'x-b', claim: 'b' }, { header: 'x-c', claim: 'c' }] }])]);
    const outcome = await auth.authenticate(tokenRequest(bearer(await sign(key, { iss: ISSUER, sub: 'u', a: 'line\r\nx-injected: 1', b: ['list'], c: true }))));
    expect(outcome.ok && outcome.headersToSet).toEqual([['x-c', 'true']]);
  });
});

describe('several rules (Envoy: any provider, or every one missing)', () => {
  it('a token valid for one of two issuers sharing Authorization passes; one valid for neither gets 401', async () => {
    const second = await testKey('ES256');
    const auth = authenticator([ra([{ issuer: ISSUER, jwks: jwksOf(key) }], 'a'), ra([{ issuer: 'https://second.example.com', jwks: jwksOf(second) }], 'b')]);
    expect(await auth.authenticate(tokenRequest(bearer(await sign(second, { iss: 'https://second.example.com', sub: 's' }))))).toMatchObject({ ok: true, rule: 'foo/b jwtRules[0]' });
    expect(await auth.authenticate(tokenRequest(bearer(await sign(key, { iss: ISSUER, sub: 's' }))))).toMatchObject({ ok: true, rule: 'foo/a jwtRules[0]' });
    expect(await auth.authenticate(tokenRequest(bearer(await sign(second, { iss: 'https://third.example.com', sub: 's' }))))).toMatchObject({ ok: false, problem: 'issuer' });
  });

  it('selection: root namespace and own namespace, selector subset, no targetRefs', () => {
    const rules = [{ issuer: ISSUER, jwks: jwksOf(key) }];
    const compiled = compileRequestAuthentication(
      [
        ra(rules, 'mesh', 'istio-system'),
        ra(rules, 'mine', 'foo'),
        ra(rules, 'elsewhere', 'bar'),
        { ...ra(rules, 'other-app'), spec: { selector: { matchLabels: { app: 'web' } }, jwtRules: rules } },
        { ...ra(rules, 'gateway'), spec: { targetRefs: [{ kind: 'Gateway', name: 'gw', group: 'gateway.networking.k8s.io' }], jwtRules: rules } },
      ],
      WORKLOAD,
    );
    expect(compiled.authenticator.ruleIds).toEqual(['istio-system/mesh jwtRules[0]', 'foo/mine jwtRules[0]']);
  });

  it('a rule whose inline keys cannot be read is a config error, and refuses the tokens it finds', async () => {
    const compiled = compileRequestAuthentication([ra([{ issuer: ISSUER, jwks: 'not json' }])], WORKLOAD);
    expect(compiled.findings).toEqual([expect.objectContaining({ severity: 'error', where: 'RequestAuthentication/foo/jwt', path: 'spec.jwtRules[0].jwks' })]);
    expect(failure(await compiled.authenticator.authenticate(tokenRequest(bearer(await sign(key, { iss: ISSUER, sub: 'u' })))))).toBe('keys-unavailable');
  });
});
