// RequestAuthentication and AuthorizationPolicy on request principals and claims, in the
// inbound path of mesh.createServer with real sockets: tokens signed at test time with
// jose, keys inline in the resource. Table-driven, as Istio's JWT authorization task.
import type { Server } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh, type MeshIncomingMessage } from 'proxyless';
import { closeServer, listen } from '../../helpers/listen.js';
import { jwksOf, sign, testKey, type TestKey } from '../../unit/security/jwt-test-kit.js';

const ISSUER = 'testing@secure.istio.io';
let key: TestKey;
let stranger: TestKey;
let mesh: Mesh;
let server: Server;
let url: string;

beforeAll(async () => {
  key = await testKey('ES256');
  stranger = await testKey('ES256');
  mesh = createMesh({
    namespace: 'foo',
    labels: { app: 'httpbin' },
    config: [
      `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwksOf(key)}'
    outputClaimToHeaders: [{ header: x-jwt-group, claim: group }]
`,
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: foo }
spec:
  selector: { matchLabels: { app: httpbin } }
  action: ALLOW
  rules:
  - from: [{ source: { requestPrincipals: ["${ISSUER}/${ISSUER}"] } }]
    to: [{ operation: { paths: ["/headers"] } }]
  - from: [{ source: { requestPrincipals: ["*"] } }]
    to: [{ operation: { paths: ["/group"] } }]
    when: [{ key: "request.auth.claims[group]", values: ["group1"] }]
  - to: [{ operation: { paths: ["/ip"] } }]
`,
    ],
  });
  server = mesh.createServer((req: MeshIncomingMessage, res) => res.end(`ok ${req.headers['x-jwt-group'] ?? ''}`.trim()));
  url = await listen(server);
});
afterAll(async () => {
  await closeServer(server);
  await mesh.close();
});

async function get(path: string, token?: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; auth: string | undefined }> {
  const res = await request(`${url}${path}`, { headers: { ...headers, ...(token !== undefined && { authorization: `Bearer ${token}` }) } });
  return { status: res.statusCode, body: await res.body.text(), auth: res.headers['www-authenticate'] as string | undefined };
}

describe('RequestAuthentication and JWT authorization in the inbound path', () => {
  const cases: Array<{ name: string; path: string; token?: () => Promise<string>; forged?: Record<string, string>; status: number; body?: string | RegExp }> = [
    { name: 'no token, path open to all', path: '/ip', status: 200, body: 'ok' },
    { name: 'no token, path requiring a principal', path: '/headers', status: 403, body: 'RBAC: access denied' },
    { name: 'valid token, the principal the rule names', path: '/headers', token: () => sign(key, { iss: ISSUER, sub: ISSUER }), status: 200 },
    { name: 'valid token of another subject', path: '/headers', token: () => sign(key, { iss: ISSUER, sub: 'someone-else' }), status: 403 },
    { name: 'invalid token (signed by a key not in jwks)', path: '/ip', token: () => sign(stranger, { iss: ISSUER, sub: ISSUER }), status: 401 },
    { name: 'expired token', path: '/ip', token: () => sign(key, { iss: ISSUER, sub: ISSUER, exp: Math.floor(Date.now() / 1000) - 3600 }), status: 401 },
    { name: 'claim group1, claim rule', path: '/group', token: () => sign(key, { iss: ISSUER, sub: 'a', group: 'group1' }), status: 200, body: 'ok group1' },
    { name: 'claim group2, claim rule', path: '/group', token: () => sign(key, { iss: ISSUER, sub: 'a', group: 'group2' }), status: 403 },
    { name: 'a forged claim header is removed', path: '/ip', forged: { 'x-jwt-group': 'admins' }, status: 200, body: 'ok' },
  ];

  it.each(cases)('$name: $status', async ({ path, token, forged, status, body }) => {
    const res = await get(path, token ? await token() : undefined, forged);
    expect(res.status).toBe(status);
    if (status === 401) expect(res.auth).toBe('Bearer error="invalid_token"');
    if (typeof body === 'string') expect(res.body).toBe(body);
    else if (body !== undefined) expect(res.body).toMatch(body);
  });
});
