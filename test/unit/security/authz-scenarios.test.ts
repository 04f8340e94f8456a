import { describe, expect, it } from 'vitest';
import { compileAuthorization, type AuthzDecision } from '../../../src/security/index.js';
import { jwtAuth, request, resources, spiffe, type RequestFields } from './security-helpers.js';

/**
 * The scenarios of Istio's authorization tasks and reference pages (istio.io: Authorization
 * on HTTP traffic, Explicit deny, Dry run, JWT, Trust domain migration, Ingress IP-based
 * allow/deny; AuthorizationPolicy reference), each as a table of requests and the
 * decision Istio's task page says a sidecar makes. The policies are re-typed from the
 * task pages, reduced to what each scenario needs.
 */

interface Case {
  readonly name: string;
  readonly req: RequestFields;
  readonly allowed: boolean;
  /** `namespace/name` of the deciding policy, when one decides. */
  readonly policy?: string;
  readonly reason?: AuthzDecision['reason'];
}

interface Scenario {
  readonly title: string;
  readonly workload: { namespace: string; labels: Record<string, string> };
  readonly yaml: string;
  readonly cases: readonly Case[];
  readonly trustDomain?: string;
  readonly trustDomainAliases?: readonly string[];
}

const PRODUCTPAGE = spiffe('default', 'bookinfo-productpage');
const REVIEWS = spiffe('default', 'bookinfo-reviews');
const CURL = spiffe('default', 'curl');

const SCENARIOS: readonly Scenario[] = [
  {
    title: 'deny by default: allow-nothing in the namespace',
    workload: { namespace: 'default', labels: { app: 'productpage' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
`,
    cases: [
      { name: 'a GET from a mesh peer is denied', req: { peer: CURL }, allowed: false, reason: 'no-allow-match' },
      { name: 'a plaintext POST is denied', req: { method: 'POST' }, allowed: false, reason: 'no-allow-match' },
    ],
  },
  {
    title: 'HTTP traffic: productpage-viewer on top of allow-nothing (GET from anyone)',
    workload: { namespace: 'default', labels: { app: 'productpage', version: 'v1' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: default}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: productpage-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: productpage}}
  action: ALLOW
  rules:
  - to:
    - operation: {methods: [GET]}
`,
    cases: [
      { name: 'GET is allowed', req: { path: '/productpage' }, allowed: true, policy: 'default/productpage-viewer' },
      { name: 'POST is denied', req: { method: 'POST', path: '/productpage' }, allowed: false },
      { name: 'get in lower case is denied (methods are case-sensitive)', req: { method: 'get' }, allowed: false },
    ],
  },
  {
    title: 'HTTP traffic: details-viewer allows GET from the productpage service account only',
    workload: { namespace: 'default', labels: { app: 'details' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: details-viewer, namespace: default}
spec:
  selector: {matchLabels: {app: details}}
  action: ALLOW
  rules:
  - from:
    - source: {principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]}
    to:
    - operation: {methods: [GET]}
`,
    cases: [
      { name: 'productpage GET is allowed', req: { peer: PRODUCTPAGE }, allowed: true, policy: 'default/details-viewer' },
      { name: 'reviews GET is denied', req: { peer: REVIEWS }, allowed: false },
      { name: 'productpage POST is denied', req: { peer: PRODUCTPAGE, method: 'POST' }, allowed: false },
      { name: 'a plaintext GET has no principal and is denied', req: {}, allowed: false },
      { name: 'the same service account in another trust domain is denied', req: { peer: spiffe('default', 'bookinfo-productpage', 'other.example') }, allowed: false },
    ],
  },
  {
    title: 'explicit deny: deny-method-get',
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method-get, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation: {methods: [GET]}
`,
    cases: [
      { name: 'GET /get is denied', req: { path: '/get' }, allowed: false, policy: 'foo/deny-method-get', reason: 'deny-policy' },
      { name: 'POST /post is allowed (no ALLOW policy)', req: { method: 'POST', path: '/post' }, allowed: true, reason: 'no-allow-policy' },
    ],
  },
  {
    title: 'explicit deny: deny GET unless x-token is admin, allow /ip only',
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-method-get, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to:
    - operation: {methods: [GET]}
    when:
    - key: request.headers[x-token]
      notValues: [admin]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-path-ip, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - to:
    - operation: {paths: [/ip]}
`,
    cases: [
      { name: 'GET /ip with x-token admin is allowed', req: { path: '/ip', headers: { 'x-token': 'admin' } }, allowed: true, policy: 'foo/allow-path-ip' },
      { name: 'GET /ip with x-token guest is denied by the DENY policy', req: { path: '/ip', headers: { 'x-token': 'guest' } }, allowed: false, policy: 'foo/deny-method-get' },
      { name: 'GET /ip without x-token is denied by the DENY policy', req: { path: '/ip' }, allowed: false, policy: 'foo/deny-method-get' },
      { name: 'GET /headers with x-token admin matches no ALLOW rule', req: { path: '/headers', headers: { 'x-token': 'admin' } }, allowed: false, reason: 'no-allow-match' },
      { name: 'header names are case-insensitive', req: { path: '/ip', headers: { 'X-Token': 'admin' } }, allowed: true },
      { name: 'header values are case-sensitive', req: { path: '/ip', headers: { 'x-token': 'Admin' } }, allowed: false, policy: 'foo/deny-method-get' },
    ],
  },
  {
    title: 'deny by path (reference: notPaths, prefix and suffix)',
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: foo}
spec:
  action: DENY
  rules:
  - to:
    - operation: {paths: ["/admin*", "*.php"], ports: ["8080"]}
`,
    cases: [
      { name: '/admin is denied', req: { path: '/admin' }, allowed: false },
      { name: '/admin/users is denied', req: { path: '/admin/users' }, allowed: false },
      { name: '/index.php is denied', req: { path: '/index.php' }, allowed: false },
      { name: '/Admin is allowed (paths are case-sensitive)', req: { path: '/Admin' }, allowed: true },
      { name: '/admin on another port is allowed', req: { path: '/admin', port: 9090 }, allowed: true },
    ],
  },
  {
    title: 'by namespace: deny from dev, allow from prod and team-* namespaces',
    workload: { namespace: 'foo', labels: { app: 'api' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-dev, namespace: foo}
spec:
  action: DENY
  rules:
  - from: [{source: {namespaces: [dev]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-prod, namespace: foo}
spec:
  rules:
  - from: [{source: {namespaces: [prod, "team-*"]}}]
`,
    cases: [
      { name: 'a peer in prod is allowed', req: { peer: spiffe('prod', 'a') }, allowed: true, policy: 'foo/allow-prod' },
      { name: 'a peer in team-blue is allowed', req: { peer: spiffe('team-blue', 'a') }, allowed: true },
      { name: 'a peer in dev is denied by the DENY policy', req: { peer: spiffe('dev', 'a') }, allowed: false, policy: 'foo/deny-dev' },
      { name: 'a peer in production (not prod) is denied', req: { peer: spiffe('production', 'a') }, allowed: false, reason: 'no-allow-match' },
      { name: 'plaintext has no namespace and is denied', req: {}, allowed: false, reason: 'no-allow-match' },
    ],
  },
  {
    title: 'by header: allow only requests whose User-Agent starts with curl, deny a presence of x-debug',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: no-debug, namespace: foo}
spec:
  action: DENY
  rules:
  - when: [{key: "request.headers[x-debug]", values: ["*"]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: curl-only, namespace: foo}
spec:
  rules:
  - when: [{key: "request.headers[User-Agent]", values: ["curl/*"]}]
`,
    cases: [
      { name: 'curl is allowed', req: { headers: { 'user-agent': 'curl/8.5.0' } }, allowed: true },
      { name: 'a browser is denied', req: { headers: { 'user-agent': 'Mozilla/5.0' } }, allowed: false },
      { name: 'x-debug present, even empty, is denied', req: { headers: { 'user-agent': 'curl/8.5.0', 'x-debug': '' } }, allowed: false, policy: 'foo/no-debug' },
    ],
  },
  {
    title: 'by JWT: require a request principal, then a groups claim (JWT task)',
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-jwt, namespace: foo}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: ALLOW
  rules:
  - from:
    - source: {requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"]}
    when:
    - key: request.auth.claims[groups]
      values: ["group1"]
`,
    cases: [
      { name: 'no token is denied', req: {}, allowed: false },
      { name: 'a token without the group is denied', req: { auth: jwtAuth({ iss: 'testing@secure.istio.io', sub: 'testing@secure.istio.io' }) }, allowed: false },
      { name: 'a token with groups [group1, group2] is allowed', req: { auth: jwtAuth({ iss: 'testing@secure.istio.io', sub: 'testing@secure.istio.io', groups: ['group1', 'group2'] }) }, allowed: true },
      { name: 'a token with groups group1 as a string is allowed', req: { auth: jwtAuth({ iss: 'testing@secure.istio.io', sub: 'testing@secure.istio.io', groups: 'group1' }) }, allowed: true },
      { name: 'another subject is denied', req: { auth: jwtAuth({ iss: 'testing@secure.istio.io', sub: 'someone-else', groups: ['group1'] }) }, allowed: false },
    ],
  },
  {
    title: 'by JWT: any valid token (requestPrincipals "*"), a scope in a space-delimited claim, an audience',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: require-any-jwt, namespace: foo}
spec:
  rules:
  - from: [{source: {requestPrincipals: ["*"]}}]
    when:
    - {key: "request.auth.claims[scope]", values: [write]}
    - {key: request.auth.audiences, values: [bookstore.example.com]}
`,
    cases: [
      { name: 'a token with the scope and audience is allowed', req: { auth: jwtAuth({ iss: 'https://issuer', sub: 'u1', scope: ['read', 'write'], aud: 'bookstore.example.com' }) }, allowed: true },
      { name: 'a token without the scope is denied', req: { auth: jwtAuth({ iss: 'https://issuer', sub: 'u1', scope: ['read'], aud: ['bookstore.example.com'] }) }, allowed: false },
      { name: 'a token without a subject is denied (the principal needs both)', req: { auth: jwtAuth({ iss: 'https://issuer', scope: ['write'], aud: 'bookstore.example.com' }) }, allowed: false },
      { name: 'no token is denied', req: {}, allowed: false },
    ],
  },
  {
    title: 'dry run: a DENY policy in dry-run is never enforced',
    workload: { namespace: 'foo', labels: { app: 'httpbin' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-path-headers
  namespace: foo
  annotations: {"istio.io/dry-run": "true"}
spec:
  selector: {matchLabels: {app: httpbin}}
  action: DENY
  rules:
  - to: [{operation: {paths: [/headers]}}]
`,
    cases: [
      { name: '/headers is allowed', req: { path: '/headers' }, allowed: true, reason: 'no-policy' },
      { name: '/ip is allowed', req: { path: '/ip' }, allowed: true, reason: 'no-policy' },
    ],
  },
  {
    title: 'dry run: a dry-run ALLOW policy does not make the workload deny by default',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: only-get, namespace: foo, annotations: {"istio.io/dry-run": "1"}}
spec:
  rules: [{to: [{operation: {methods: [GET]}}]}]
`,
    cases: [{ name: 'POST is allowed', req: { method: 'POST' }, allowed: true, reason: 'no-policy' }],
  },
  {
    title: 'allow-all with rules: [{}] beside a DENY',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-all, namespace: foo}
spec:
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
`,
    cases: [
      { name: 'GET is allowed', req: {}, allowed: true, policy: 'foo/allow-all' },
      { name: 'DELETE is denied: DENY wins over ALLOW', req: { method: 'DELETE' }, allowed: false, policy: 'foo/deny-delete' },
    ],
  },
  {
    title: 'root namespace policies apply mesh-wide; other namespaces and selectors do not',
    workload: { namespace: 'foo', labels: { app: 'api', version: 'v1' } },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny-v1-admin, namespace: istio-system}
spec:
  selector: {matchLabels: {version: v1}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: bar-allow-nothing, namespace: bar}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: other-app, namespace: foo}
spec:
  selector: {matchLabels: {app: web}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gateway-only, namespace: foo}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: ingress}]
`,
    cases: [
      { name: '/admin is denied by the root namespace policy', req: { path: '/admin' }, allowed: false, policy: 'istio-system/mesh-deny-v1-admin' },
      { name: '/ is allowed: the other policies do not apply', req: { path: '/' }, allowed: true, reason: 'no-allow-policy' },
    ],
  },
  {
    title: 'hosts with the port rule, ports, service accounts and trust domains (reference)',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: hosts, namespace: foo}
spec:
  rules:
  - to: [{operation: {hosts: [api.example.com, "*.internal.example.com", "web.example.com:*"], ports: ["8080"]}}]
  - from: [{source: {serviceAccounts: [reader, "bar/writer"]}}]
  - from: [{source: {trustDomains: ["partner.example"]}}]
`,
    cases: [
      { name: 'the exact host is allowed', req: { host: 'api.example.com' }, allowed: true },
      { name: 'the host in upper case is allowed (hosts ignore case)', req: { host: 'API.Example.COM' }, allowed: true },
      { name: 'the exact host with a port is denied (list host:* for that)', req: { host: 'api.example.com:8080' }, allowed: false },
      { name: 'a suffix host is allowed', req: { host: 'db.internal.example.com' }, allowed: true },
      { name: 'a suffix host with a port is denied (the suffix ends the host)', req: { host: 'db.internal.example.com:5432' }, allowed: false },
      { name: 'host:* allows the host with any port', req: { host: 'web.example.com:8443' }, allowed: true },
      { name: 'the host on another port is denied', req: { host: 'api.example.com', port: 9090 }, allowed: false },
      { name: 'service account reader of the policy namespace is allowed', req: { host: 'x', peer: spiffe('foo', 'reader') }, allowed: true, policy: 'foo/hosts' },
      { name: 'service account reader of another namespace is denied', req: { host: 'x', peer: spiffe('bar', 'reader') }, allowed: false },
      { name: 'bar/writer is allowed', req: { host: 'x', peer: spiffe('bar', 'writer') }, allowed: true },
      { name: 'bar/writer-2 is denied (no partial names)', req: { host: 'x', peer: spiffe('bar', 'writer-2') }, allowed: false },
      { name: 'a peer of the partner trust domain is allowed', req: { host: 'x', peer: spiffe('any', 'one', 'partner.example') }, allowed: true },
    ],
  },
  {
    title: 'trust domain migration: cluster.local principals mean the mesh trust domain and its aliases',
    workload: { namespace: 'default', labels: {} },
    trustDomain: 'new-td',
    trustDomainAliases: ['old-td'],
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: service-httpbin.default.svc.cluster.local, namespace: default}
spec:
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/curl"]}}]
`,
    cases: [
      { name: 'curl in the new trust domain is allowed', req: { peer: spiffe('default', 'curl', 'new-td') }, allowed: true },
      { name: 'curl in the old trust domain is allowed', req: { peer: spiffe('default', 'curl', 'old-td') }, allowed: true },
      { name: 'curl in cluster.local (not the mesh trust domain) is denied', req: { peer: spiffe('default', 'curl') }, allowed: false },
      { name: 'curl in a foreign trust domain is denied', req: { peer: spiffe('default', 'curl', 'evil') }, allowed: false },
    ],
  },
  {
    title: 'ingress IP allow/deny: ipBlocks and remoteIpBlocks',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ip-deny, namespace: foo}
spec:
  action: DENY
  rules: [{from: [{source: {remoteIpBlocks: ["203.0.113.0/24"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ip-allow, namespace: foo}
spec:
  rules: [{from: [{source: {ipBlocks: ["10.0.0.0/8", "2001:db8::/32"], notIpBlocks: ["10.9.9.9"]}}]}]
`,
    cases: [
      { name: 'a peer in 10/8 is allowed', req: { sourceIp: '10.1.2.3' }, allowed: true },
      { name: 'the excluded address is denied', req: { sourceIp: '10.9.9.9' }, allowed: false },
      { name: 'an IPv4-mapped IPv6 peer reads as IPv4', req: { sourceIp: '::ffff:10.1.2.3' }, allowed: true },
      { name: 'an IPv6 peer in the block is allowed', req: { sourceIp: '2001:db8::1' }, allowed: true },
      { name: 'a peer outside is denied', req: { sourceIp: '192.168.1.1' }, allowed: false },
      { name: 'a forwarded client in the denied block is denied', req: { sourceIp: '10.1.2.3', remoteIp: '203.0.113.7' }, allowed: false, policy: 'foo/ip-deny' },
    ],
  },
  {
    title: 'URI templates (reference): {*} one segment, {**} the rest',
    workload: { namespace: 'foo', labels: {} },
    yaml: `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: templates, namespace: foo}
spec:
  rules:
  - to: [{operation: {paths: ["/api/{*}/items", "/static/{**}"]}}]
`,
    cases: [
      { name: '/api/v1/items is allowed', req: { path: '/api/v1/items' }, allowed: true },
      { name: '/api/v1/v2/items is denied', req: { path: '/api/v1/v2/items' }, allowed: false },
      { name: '/api//items is denied ({*} is not empty)', req: { path: '/api//items' }, allowed: false },
      { name: '/static/css/site.css is allowed', req: { path: '/static/css/site.css' }, allowed: true },
      { name: '/static is denied', req: { path: '/static' }, allowed: false },
    ],
  },
];

describe('Istio authorization tasks and reference, as tables', () => {
  for (const scenario of SCENARIOS) {
    describe(scenario.title, () => {
      const { authorizationPolicies } = resources(scenario.yaml);
      const compiled = compileAuthorization(authorizationPolicies, {
        workload: scenario.workload,
        ...(scenario.trustDomain !== undefined && { trustDomain: scenario.trustDomain }),
        ...(scenario.trustDomainAliases !== undefined && { trustDomainAliases: scenario.trustDomainAliases }),
      });
      it('compiles without errors', () => {
        expect(compiled.findings.filter((f) => f.severity === 'error')).toEqual([]);
      });
      for (const c of scenario.cases) {
        it(c.name, () => {
          const decision = compiled.authorizer!.decide(request(c.req));
          expect(decision.allowed).toBe(c.allowed);
          if (c.policy !== undefined) expect(decision.policy).toBe(c.policy);
          if (c.reason !== undefined) expect(decision.reason).toBe(c.reason);
        });
      }
    });
  }
});
