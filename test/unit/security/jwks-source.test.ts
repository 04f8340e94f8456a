import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent, fetch as undiciFetch } from 'undici';
import { compileRequestAuthentication, JwksCache, type RequestAuthenticationResource } from '../../../src/security/index.js';
import { testPki } from '../../helpers/certs.js';
import { jwksOf, sign, startJwksServer, testKey, tokenRequest, type JwksServer, type TestKey } from './jwt-test-kit.js';

/**
 * Fetched key sets against a real local JWKS server: cached, refreshed, kept through
 * outages, refreshed for a rotated key at most once per cooldown, bounded in time and
 * size. Waits are on the server's requests (events), never on guessed sleeps.
 */

const ISSUER = 'https://issuer.example.com';
const WORKLOAD = { namespace: 'foo', labels: {} };

let key: TestKey;
let server: JwksServer;
const cleanup: Array<() => void> = [];

beforeAll(async () => {
  key = await testKey('ES256');
});
afterEach(async () => {
  for (const fn of cleanup.splice(0)) fn();
  await server?.close();
});

function authenticator(uri: string, options: ConstructorParameters<typeof JwksCache>[0] = {}, timeout?: string) {
  const cache = new JwksCache(options);
  cleanup.push(() => cache.close());
  const rules: RequestAuthenticationResource = { metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: [{ issuer: ISSUER, jwksUri: uri, ...(timeout && { timeout }) }] } };
  const compiled = compileRequestAuthentication([rules], WORKLOAD, { jwks: cache });
  return { auth: compiled.authenticator, remote: [...compiled.remoteKeys][0]!, cache };
}

const check = async (auth: ReturnType<typeof authenticator>['auth'], signer: TestKey, sub = 'u') =>
  auth.authenticate(tokenRequest({ authorization: `Bearer ${await sign(signer, { iss: ISSUER, sub })}` }));

describe('fetched key sets', () => {
  it('refreshes on its period, and an outage keeps the last good keys', async () => {
    server = await startJwksServer(jwksOf(key));
    const errors: string[] = [];
    const { auth } = authenticator(server.url, { refreshMs: 30, retryMs: 30, onError: (e) => errors.push(e.message) });
    expect((await check(auth, key)).ok).toBe(true);
    expect(server.hits).toBe(1);
    await server.progress.until('a refresh', () => server.hits >= 2);
    server.respond = (_req, res) => {
      res.statusCode = 503;
      res.end('down');
    };
    const hitsAtOutage = server.hits;
    await server.progress.until('two refreshes during the outage', () => server.hits >= hitsAtOutage + 2);
    expect(errors.some((e) => /status 503/.test(e))).toBe(true);
    expect((await check(auth, key)).ok).toBe(true);
  });

  it('a key set that never arrived: 401 until the retry gets it', async () => {
    server = await startJwksServer(jwksOf(key));
    server.respond = (_req, res) => {
      res.statusCode = 500;
      res.end();
    };
    const { auth, remote } = authenticator(server.url, { retryMs: 20 });
    expect(await check(auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(remote.lastError?.message).toMatch(/status 500/);
    server.respond = (_req, res) => res.end(server.body);
    const hits = server.hits;
    await server.progress.until('the retry', () => server.hits > hits);
    // The retry's answer may still be on its way: refresh() joins it (or fetches again).
    await remote.refresh();
    expect(remote.lastError).toBeUndefined();
    expect((await check(auth, key)).ok).toBe(true);
  });

  it('while a key set that never arrived is down, tokens do not each cause a fetch (the retry period does)', async () => {
    server = await startJwksServer(jwksOf(key));
    server.respond = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const { auth } = authenticator(server.url, { retryMs: 60_000 });
    for (let i = 0; i < 20; i++) expect(await check(auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(server.hits).toBe(1);
  });

  it('an unknown key id refreshes once (rotation), then not again within the cooldown', async () => {
    server = await startJwksServer(jwksOf(key));
    const { auth } = authenticator(server.url);
    expect((await check(auth, key)).ok).toBe(true);
    const rotated = await testKey('ES256');
    server.body = jwksOf(key, rotated);
    expect((await check(auth, rotated)).ok).toBe(true);
    expect(server.hits).toBe(2);
    // Within the cooldown of that refresh, key ids nobody published fetch nothing more.
    const stranger = await testKey('ES256');
    for (let i = 0; i < 5; i++) expect(await check(auth, stranger)).toMatchObject({ ok: false, problem: 'no-key' });
    expect(server.hits).toBe(2);
  });

  it('with the cooldown passed, an unknown key id refreshes again', async () => {
    server = await startJwksServer(jwksOf(key));
    const { auth } = authenticator(server.url, { unknownKeyCooldownMs: 0 });
    expect((await check(auth, key)).ok).toBe(true);
    const stranger = await testKey('ES256');
    for (let i = 0; i < 3; i++) expect(await check(auth, stranger)).toMatchObject({ ok: false, problem: 'no-key' });
    expect(server.hits).toBe(4);
  });

  it('a server that does not answer fails after the rule timeout', async () => {
    server = await startJwksServer(jwksOf(key));
    server.respond = () => undefined;
    const errors: string[] = [];
    const { auth } = authenticator(server.url, { onError: (e) => errors.push(e.message) }, '150ms');
    expect(await check(auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(errors[0]).toMatch(/no answer within 150 ms/);
  });

  it('a key set over 1 MiB is refused, with or without Content-Length', async () => {
    server = await startJwksServer(jwksOf(key));
    const big = JSON.stringify({ keys: [key.jwk], padding: 'x'.repeat(1024 * 1024) });
    for (const chunked of [false, true]) {
      server.respond = (_req, res) => {
        if (!chunked) res.setHeader('content-length', Buffer.byteLength(big));
        res.write(big.slice(0, 1000));
        res.end(big.slice(1000));
      };
      const errors: string[] = [];
      const { auth } = authenticator(server.url, { onError: (e) => errors.push(e.message) });
      expect(await check(auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
      expect(errors[0]).toMatch(/more than the 1048576 bytes/);
    }
  });

  it('a body that is not a key set is a failure', async () => {
    server = await startJwksServer('<html>login</html>');
    const errors: string[] = [];
    const { auth } = authenticator(server.url, { onError: (e) => errors.push(e.message) });
    expect(await check(auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(errors[0]).toMatch(/not JSON/);
  });

  it('concurrent first requests share one fetch', async () => {
    server = await startJwksServer(jwksOf(key));
    const { auth } = authenticator(server.url);
    const outcomes = await Promise.all([1, 2, 3, 4, 5, 6].map(() => check(auth, key)));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(server.hits).toBe(1);
  });

  it('the cache keeps a key set across config versions; retain closes the ones no longer named', async () => {
    server = await startJwksServer(jwksOf(key));
    const cache = new JwksCache();
    cleanup.push(() => cache.close());
    const version = (uri: string) => compileRequestAuthentication([{ metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: [{ issuer: ISSUER, jwksUri: uri }] } }], WORKLOAD, { jwks: cache });
    const v1 = version(server.url);
    expect((await v1.authenticator.authenticate(tokenRequest({ authorization: `Bearer ${await sign(key, { iss: ISSUER, sub: 'u' })}` }))).ok).toBe(true);
    const v2 = version(server.url);
    expect([...v2.remoteKeys][0]).toBe([...v1.remoteKeys][0]);
    expect((await v2.authenticator.authenticate(tokenRequest({ authorization: `Bearer ${await sign(key, { iss: ISSUER, sub: 'u' })}` }))).ok).toBe(true);
    expect(server.hits).toBe(1);
    const v3 = version(`${server.url}?v=3`);
    cache.retain(v3.remoteKeys);
    expect(cache.get(server.url, 5000)).not.toBe([...v1.remoteKeys][0]);
  });
});

describe('over HTTPS', () => {
  const pki = testPki();
  afterAll(() => pki.cleanup());

  it('fetches with the fetch it is given (here one trusting a test CA)', async () => {
    const ca = pki.ca('jwks-ca');
    const leaf = ca.leaf('jwks', ['IP:127.0.0.1']);
    const https = createHttpsServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end(jwksOf(key)));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const agent = new Agent({ connect: { ca: ca.cert } });
    cleanup.push(() => {
      https.close();
      https.closeAllConnections();
      void agent.close();
    });
    server = await startJwksServer('');
    const uri = `https://127.0.0.1:${(https.address() as AddressInfo).port}/jwks`;
    const trusting = ((url: string, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
    expect((await check(authenticator(uri, { fetch: trusting }).auth, key)).ok).toBe(true);
    // The platform's fetch does not trust the test CA: the key set cannot be had.
    const errors: string[] = [];
    expect(await check(authenticator(uri, { onError: (e) => errors.push(String((e.cause as Error)?.cause ?? e.message)) }).auth, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(errors[0]).toMatch(/certificate|self.signed|verify/i);
  });
});

describe('keys found by OpenID discovery (a rule with an issuer and no keys)', () => {
  it('reads jwks_uri from <issuer>/.well-known/openid-configuration, then the keys', async () => {
    server = await startJwksServer(jwksOf(key));
    const issuer = new URL(server.url).origin;
    const paths: string[] = [];
    server.respond = (req, res) => {
      paths.push(req.url ?? '');
      res.end(req.url === '/.well-known/openid-configuration' ? JSON.stringify({ issuer, jwks_uri: `${issuer}/keys` }) : server.body);
    };
    const cache = new JwksCache();
    cleanup.push(() => cache.close());
    const compiled = compileRequestAuthentication([{ metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: [{ issuer }] } }], WORKLOAD, { jwks: cache });
    expect(compiled.findings).toEqual([]);
    const token = await sign(key, { iss: issuer, sub: 'u' });
    expect(await compiled.authenticator.authenticate(tokenRequest({ authorization: `Bearer ${token}` }))).toMatchObject({ ok: true, auth: { principal: `${issuer}/u` } });
    expect(paths).toEqual(['/.well-known/openid-configuration', '/keys']);
  });

  it('a discovery document without jwks_uri, or a fetched set without "keys", is a failure', async () => {
    server = await startJwksServer('{}');
    const issuer = new URL(server.url).origin;
    const errors: string[] = [];
    const cache = new JwksCache({ onError: (e) => errors.push(e.message) });
    cleanup.push(() => cache.close());
    const compile = (rule: object) => compileRequestAuthentication([{ metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: [rule] } }], WORKLOAD, { jwks: cache }).authenticator;
    const token = await sign(key, { iss: issuer, sub: 'u' });
    expect(await compile({ issuer }).authenticate(tokenRequest({ authorization: `Bearer ${token}` }))).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(errors[0]).toMatch(/has no jwks_uri/);
    server.body = JSON.stringify(key.jwk);
    expect(await compile({ issuer, jwksUri: server.url }).authenticate(tokenRequest({ authorization: `Bearer ${token}` }))).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    expect(errors[1]).toMatch(/no "keys" list/);
  });
});

describe('never from link-local or cloud metadata addresses', () => {
  it('a jwksUri naming one is refused without a fetch, with a warning, and its tokens get 401', async () => {
    let fetched = false;
    const cache = new JwksCache({ fetch: (() => { fetched = true; throw new Error('fetched'); }) as never });
    cleanup.push(() => cache.close());
    for (const uri of ['http://169.254.169.254/latest/meta-data', 'http://[fe80::1]/jwks', 'http://100.100.100.200/x', 'http://[fd00:ec2::254]/x']) {
      const compiled = compileRequestAuthentication([{ metadata: { name: 'jwt', namespace: 'foo' }, spec: { jwtRules: [{ issuer: ISSUER, jwksUri: uri }] } }], WORKLOAD, { jwks: cache });
      expect(compiled.findings, uri).toEqual([expect.objectContaining({ severity: 'warning', path: 'spec.jwtRules[0].jwksUri', message: expect.stringMatching(/link-local or cloud metadata address/) })]);
      expect(await check(compiled.authenticator, key)).toMatchObject({ ok: false, problem: 'keys-unavailable' });
    }
    expect(fetched).toBe(false);
  });

  it('a host name that resolves to one is refused when connecting', async () => {
    const { guardedLookup } = await import('../../../src/security/jwks-fetch.js');
    // A stand-in resolver: no DNS server here can be made to answer a link-local address for a name.
    const lookup = guardedLookup((_host, _options, callback) => callback(null, [{ address: '10.0.0.1', family: 4 }, { address: '169.254.169.254', family: 4 }]));
    const result = await new Promise<unknown>((resolve) => lookup('metadata.internal', {}, (error) => resolve(error)));
    expect(result).toMatchObject({ code: 'EBLOCKED', message: expect.stringMatching(/metadata.internal resolves to 169.254.169.254/) });
    const fine = guardedLookup((_host, _options, callback) => callback(null, [{ address: '10.0.0.1', family: 4 }]));
    expect(await new Promise((resolve) => fine('jwks.internal', {}, (error, address) => resolve([error, address])))).toEqual([null, '10.0.0.1']);
  });
});
