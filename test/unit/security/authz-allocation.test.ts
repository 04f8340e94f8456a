import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { compileAuthorization } from '../../../src/security/index.js';
import type { AuthzRequest } from '../../../src/security/request-view.js';
import { jwtAuth, request, resources, spiffe } from './security-helpers.js';

/**
 * Evaluation allocates nothing per request: heap growth across many evaluations in one
 * synchronous loop (nothing else runs, and the loop is far too short to fill the young
 * generation, so no collection hides an allocation) divided by the count. A control
 * that allocates 32 bytes a call shows the measurement can see it.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Bytes of heap growth per call of `fn` (the least of a few tries, after warming up). */
function bytesPerCall(fn: (i: number) => unknown, calls = 20_000): number {
  for (let i = 0; i < 50_000; i++) fn(i);
  let least = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 5; attempt++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < calls; i++) fn(i);
    const after = process.memoryUsage().heapUsed;
    least = Math.min(least, (after - before) / calls);
  }
  return least;
}

const YAML = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-dev, namespace: foo, annotations: {}}
spec:
  action: DENY
  rules:
  - from: [{source: {namespaces: [dev, "test-*"], notIpBlocks: ["10.0.0.0/8", "2001:db8::/32"]}}]
  - to: [{operation: {paths: ["/admin/*", "/api/{*}/secret"], notHosts: ["*.internal"]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: shadow, namespace: foo, annotations: {"istio.io/dry-run": "true"}}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: readers, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/foo/sa/reader", "*/sa/admin"], serviceAccounts: []}}]
    to: [{operation: {methods: [GET, HEAD], paths: ["/api/*", "/static/{**}"], hosts: ["API.example.com", "api.example.com:*"]}}]
  - from: [{source: {serviceAccounts: [writer, "bar/writer"], trustDomains: ["cluster.local"]}}]
    when:
    - {key: "request.headers[x-token]", values: [admin, "*-ok"]}
    - {key: "request.auth.claims[groups]", values: [group1]}
    - {key: request.auth.principal, values: ["https://issuer.example.com/*"]}
    - {key: source.ip, notValues: ["192.168.0.0/16"]}
    - {key: destination.port, values: ["8080"]}
`;

describe('evaluation allocates nothing per request', () => {
  const { authorizer } = compileAuthorization(resources(YAML).authorizationPolicies, { workload: { namespace: 'foo', labels: {} }, onDryRun: () => undefined });
  const requests: AuthzRequest[] = [
    request({ peer: spiffe('foo', 'reader'), path: '/api/books', host: 'api.example.com' }),
    request({ peer: spiffe('foo', 'reader'), path: '/static/a/b.css', host: 'API.example.com:8080', method: 'HEAD' }),
    request({ peer: spiffe('foo', 'writer'), path: '/x', headers: { 'x-token': 'is-ok' }, auth: jwtAuth({ iss: 'https://issuer.example.com', sub: 'u', groups: ['group1'] }), sourceIp: '::ffff:10.9.8.7' }),
    request({ peer: spiffe('dev', 'x'), sourceIp: '203.0.113.9' }),
    request({ path: '/admin/users', host: 'db.example.com', method: 'DELETE' }),
    request({ sourceIp: '2001:db8::5', path: '/api/v1/secret' }),
    request({ peer: spiffe('other', 'y', 'partner.example'), path: '/api/q' }),
  ];

  it('decide: about zero bytes a request, over allowed, denied and dry-run paths', () => {
    // Every request gets the answer it should, so the loop below exercises each path.
    expect(requests.map((r) => authorizer!.decide(r).allowed)).toEqual([true, true, true, false, false, false, false]);
    const perCall = bytesPerCall((i) => authorizer!.decide(requests[i % requests.length]!));
    // The smallest object V8 allocates is 12-16 bytes: under 2 a call means none per call,
    // beyond what V8 itself may allocate once (feedback, code) during the loop.
    expect(perCall).toBeLessThan(2);
  });

  it('the measurement sees an allocation (control: a small object a call)', () => {
    const sink: unknown[] = new Array(1);
    // 20,000 calls of about 32 bytes stay well inside the young generation: no collection hides them.
    const perCall = bytesPerCall((i) => (sink[0] = { a: i, b: i }), 20_000);
    expect(perCall).toBeGreaterThan(8);
  });
});
