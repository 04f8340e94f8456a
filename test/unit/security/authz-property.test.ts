import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileAuthorization, type AuthorizationPolicyResource, type AuthorizationRuleSpec } from '../../../src/security/index.js';
import { interpret } from './authz-interpreter.js';
import { jwtAuth, request, spiffe } from './security-helpers.js';

/**
 * Compiled evaluation agrees with the slow interpreter (authz-interpreter.ts) on random
 * valid policies and random requests drawn from the same small pools, so that matches,
 * misses, wildcards, `not` forms and absent attributes all occur often.
 */

const NAMESPACES = ['foo', 'foobar', 'bar', 'team-a', 'team-b', 'prod'];
const ACCOUNTS = ['reader', 'writer', 'admin'];
const DOMAINS = ['cluster.local', 'partner.example', 'evil.example'];
const PATHS = ['/', '/admin', '/admin/users', '/api/v1/items', '/api/v2/items', '/static/a/b.css', '/static/', '/index.php', '/Admin'];
const HOSTS = ['api.example.com', 'API.example.com', 'api.example.com:8080', 'db.internal.example.com', 'other.org'];
const METHODS = ['GET', 'POST', 'DELETE', 'get'];
const PORTS = [80, 8080, 9090];
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.1.5', '::ffff:10.1.2.3', '2001:db8::7', 'fe80::1'];
const BLOCKS = ['10.0.0.0/8', '10.1.2.3', '192.168.0.0/16', '2001:db8::/32', '0.0.0.0/0', '::/0', '10.1.0.0/16'];
const ISSUERS = ['https://accounts.example.com', 'testing@secure.istio.io'];
const SUBJECTS = ['user-1', 'user-2', 'testing@secure.istio.io'];
const WORDS = ['admin', 'guest', 'group1', 'group2', 'read', 'write', 'app-1'];

const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

/** A value and its wildcard forms (prefix, suffix, presence), as validation allows them. */
function wild(base: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: base },
    { weight: 1, arbitrary: base.map((v) => `${v.slice(0, Math.max(1, Math.floor(v.length / 2)))}*`) },
    { weight: 1, arbitrary: base.map((v) => `*${v.slice(Math.floor(v.length / 2))}`) },
    { weight: 1, arbitrary: fc.constant('*') },
  );
}

const list = (value: fc.Arbitrary<string>): fc.Arbitrary<string[]> => fc.array(value, { minLength: 1, maxLength: 3 });
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 3 });
/** Mostly absent: a source or operation sets few fields, so that it can match. */
const sparse = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });

const principal = fc.tuple(pick(DOMAINS), pick(NAMESPACES), pick(ACCOUNTS)).map(([d, n, s]) => `${d}/ns/${n}/sa/${s}`);
const requestPrincipal = fc.tuple(pick(ISSUERS), pick(SUBJECTS)).map(([i, s]) => `${i}/${s}`);
const template = pick(['/api/{*}/items', '/static/{**}', '/{**}', '/api/{*}/{**}', '/{*}']);

const source = fc
  .record({
    principals: sparse(list(wild(principal))),
    notPrincipals: sparse(list(wild(principal))),
    requestPrincipals: sparse(list(wild(requestPrincipal))),
    notRequestPrincipals: sparse(list(wild(requestPrincipal))),
    namespaces: sparse(list(wild(pick(NAMESPACES)))),
    notNamespaces: sparse(list(wild(pick(NAMESPACES)))),
    ipBlocks: sparse(list(pick(BLOCKS))),
    notIpBlocks: sparse(list(pick(BLOCKS))),
    remoteIpBlocks: sparse(list(pick(BLOCKS))),
    trustDomains: sparse(list(wild(pick(DOMAINS)))),
    notTrustDomains: sparse(list(wild(pick(DOMAINS)))),
  })
  .chain((s) =>
    // serviceAccounts only without principals and namespaces (validation's rule).
    s.principals || s.notPrincipals || s.namespaces || s.notNamespaces
      ? fc.constant(s)
      : fc.record({ serviceAccounts: sparse(list(fc.oneof(pick(ACCOUNTS), fc.tuple(pick(NAMESPACES), pick(ACCOUNTS)).map(([n, a]) => `${n}/${a}`)))) }).map((sa) => ({ ...s, ...sa })),
  )
  .filter((s) => Object.values(s).some((v) => v !== undefined));

const operation = fc
  .record({
    hosts: sparse(list(wild(pick(HOSTS.map((h) => h.toLowerCase()))))),
    notHosts: sparse(list(wild(pick(HOSTS)))),
    ports: sparse(list(pick(PORTS.map(String)))),
    notPorts: sparse(list(pick(PORTS.map(String)))),
    methods: sparse(list(wild(pick(['GET', 'POST', 'DELETE'])))),
    notMethods: sparse(list(wild(pick(['GET', 'POST'])))),
    paths: sparse(list(fc.oneof(wild(pick(PATHS)), template))),
    notPaths: sparse(list(fc.oneof(wild(pick(PATHS)), template))),
  })
  .filter((o) => Object.values(o).some((v) => v !== undefined));

const conditionValues: Record<string, fc.Arbitrary<string>> = {
  'request.headers[x-token]': wild(pick(WORDS)),
  'request.headers[X-Group]': wild(pick(WORDS)),
  'source.ip': pick(BLOCKS),
  'remote.ip': pick(BLOCKS),
  'destination.ip': pick(BLOCKS),
  'source.namespace': wild(pick(NAMESPACES)),
  'source.principal': wild(principal),
  'request.auth.principal': wild(requestPrincipal),
  'request.auth.audiences': wild(pick(WORDS)),
  'request.auth.presenter': wild(pick(WORDS)),
  'request.auth.claims[groups]': wild(pick(WORDS)),
  'request.auth.claims[scope]': wild(pick(WORDS)),
  'request.auth.claims[nested][role]': wild(pick(WORDS)),
  'destination.port': pick(PORTS.map(String)),
  'connection.sni': wild(pick(HOSTS.map((h) => h.toLowerCase()))),
};

const condition = pick(Object.keys(conditionValues)).chain((key) =>
  fc.record({ key: fc.constant(key), values: maybe(list(conditionValues[key]!)), notValues: maybe(list(conditionValues[key]!)) }).filter((c) => c.values !== undefined || c.notValues !== undefined),
);

const rule: fc.Arbitrary<AuthorizationRuleSpec> = fc.record({
  from: maybe(fc.array(source.map((s) => ({ source: s })), { minLength: 1, maxLength: 2 })),
  to: maybe(fc.array(operation.map((o) => ({ operation: o })), { minLength: 1, maxLength: 2 })),
  when: maybe(fc.array(condition, { minLength: 1, maxLength: 2 })),
});

const policy = fc
  .record({
    name: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5'),
    action: fc.constantFrom('ALLOW', 'DENY', 'AUDIT', undefined),
    dryRun: fc.constantFrom(undefined, 'true', 'false'),
    rules: fc.option(fc.array(rule, { maxLength: 3 }), { nil: undefined, freq: 6 }),
  })
  .map(({ name, action, dryRun, rules }): AuthorizationPolicyResource => ({
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: 'foo', ...(dryRun !== undefined && (action === 'ALLOW' || action === 'DENY' || action === undefined) && { annotations: { 'istio.io/dry-run': dryRun } }) },
    // DENY needs rules (validation); an empty list is the same as none.
    spec: { ...(action && { action }), ...(rules !== undefined ? { rules } : action === 'DENY' ? { rules: [{}] } : {}) },
  }));

const policies = fc.uniqueArray(policy, { maxLength: 6, selector: (p) => p.metadata.name });

const claims = fc.record({
  iss: pick(ISSUERS),
  sub: maybe(pick(SUBJECTS)),
  aud: maybe(fc.oneof(pick(WORDS), fc.array(pick(WORDS), { maxLength: 3 }))),
  azp: maybe(pick(WORDS)),
  groups: maybe(fc.oneof(pick(WORDS), fc.array(pick(WORDS), { maxLength: 3 }), fc.constant(7))),
  scope: maybe(fc.array(pick(WORDS), { maxLength: 3 })),
  nested: maybe(fc.record({ role: pick(WORDS) })),
});

const req = fc
  .record({
    method: pick(METHODS),
    path: pick(PATHS),
    host: maybe(pick(HOSTS)),
    port: pick(PORTS),
    destinationIp: pick(IPS),
    sourceIp: maybe(pick(IPS)),
    remoteIp: maybe(pick(IPS)),
    peer: maybe(
      fc.oneof(
        { weight: 5, arbitrary: fc.tuple(pick(NAMESPACES), pick(ACCOUNTS), pick(DOMAINS)).map(([n, a, d]) => spiffe(n, a, d)) },
        // SPIFFE IDs of other shapes, which the service account and namespace patterns must get right.
        { weight: 1, arbitrary: fc.tuple(pick(NAMESPACES), pick(ACCOUNTS)).map(([n, a]) => `spiffe://cluster.local/ns/${n}/sa/${a}/extra`) },
        { weight: 1, arbitrary: fc.tuple(pick(NAMESPACES), pick(ACCOUNTS)).map(([n, a]) => `spiffe://cluster.local/custom/ns/${n}/pod/x/sa/${a}`) },
        { weight: 1, arbitrary: fc.tuple(pick(NAMESPACES), pick(ACCOUNTS)).map(([n, a]) => `spiffe://cluster.local/ns/${n}/sa/${a}-2`) },
        { weight: 1, arbitrary: fc.tuple(pick(NAMESPACES), pick(ACCOUNTS)).map(([n, a]) => `spiffe://cluster.local/ns/${n}/xsa/${a}`) },
        { weight: 1, arbitrary: pick(['spiffe://cluster.local', 'spiffe://cluster.local/', 'spiffe://partner.example/workload']) },
      ),
    ),
    sni: maybe(pick(HOSTS.map((h) => h.toLowerCase()))),
    token: maybe(claims),
    xToken: maybe(fc.oneof(pick(WORDS), fc.constant(''))),
    xGroup: maybe(pick(WORDS)),
  })
  .map((r) => {
    const headers: Record<string, string> = {};
    if (r.xToken !== undefined) headers['x-token'] = r.xToken;
    if (r.xGroup !== undefined) headers['x-group'] = r.xGroup;
    return request({
      method: r.method,
      path: r.path,
      host: r.host,
      port: r.port,
      destinationIp: r.destinationIp,
      sourceIp: r.sourceIp,
      ...(r.remoteIp !== undefined && { remoteIp: r.remoteIp }),
      ...(r.peer !== undefined && { peer: r.peer }),
      ...(r.sni !== undefined && { sni: r.sni }),
      ...(r.token !== undefined && { auth: jwtAuth(Object.fromEntries(Object.entries(r.token).filter(([, v]) => v !== undefined))) }),
      headers,
    });
  });

describe('compiled authorization agrees with the interpreter', () => {
  it('on random policies and requests: same decision, same deciding policy and rule', () => {
    fc.assert(
      fc.property(policies, fc.array(req, { minLength: 1, maxLength: 8 }), (ps, reqs) => {
        const { authorizer, findings } = compileAuthorization(ps, { workload: { namespace: 'foo', labels: {} } });
        expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
        // Istio's order is by name here (no creation times, one namespace).
        const ordered = [...ps].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
        for (const r of reqs) {
          const compiled = authorizer!.decide(r);
          const interpreted = interpret(ordered, r, 'foo');
          expect({ allowed: compiled.allowed, policy: compiled.policy, rule: compiled.rule }).toEqual({ allowed: interpreted.allowed, policy: interpreted.policy, rule: interpreted.rule });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('matches happen often enough for the property to mean something', () => {
    // Without this, a generator drifting into always-deny would make the property vacuous.
    let allowedByRule = 0;
    let deniedByRule = 0;
    fc.assert(
      fc.property(policies, req, (ps, r) => {
        const d = interpret(ps, r, 'foo');
        if (d.policy !== undefined) (d.allowed ? allowedByRule++ : deniedByRule++);
      }),
      { numRuns: 400 },
    );
    expect(allowedByRule).toBeGreaterThan(20);
    expect(deniedByRule).toBeGreaterThan(20);
  });
});
