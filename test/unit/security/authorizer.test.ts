import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvalidConfigError, InvalidOptionError } from '../../../src/core/errors/index.js';
import type { AuthorizationCheck } from '../../../src/security/authz-providers.js';
import type { DryRunResult } from '../../../src/security/authorizer.js';
import { compileAuthorization, compileSecurity, explainAuthorization, resolveAuthorizationOptions } from '../../../src/security/index.js';
import { request, resources, spiffe } from './security-helpers.js';

const FOO = { namespace: 'foo', labels: { app: 'httpbin' } };

afterEach(() => {
  vi.useRealTimers();
});

describe('dry run', () => {
  const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-headers, namespace: foo, annotations: {"istio.io/dry-run": "true"}}
spec:
  action: DENY
  rules: [{to: [{operation: {paths: [/headers]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: foo, annotations: {"istio.io/dry-run": "true"}}
spec:
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-delete, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
`;

  it('is evaluated, reported and counted, never enforced; the ALLOW shadow runs only for requests the DENY step let through', () => {
    const seen: Array<[DryRunResult, string]> = [];
    const { authorizer } = compileAuthorization(resources(yaml).authorizationPolicies, { workload: FOO, onDryRun: (r, req) => seen.push([r, req.path]) });
    expect(authorizer!.decide(request({ path: '/headers' }))).toMatchObject({ allowed: true, reason: 'no-allow-policy' });
    expect(authorizer!.decide(request({ path: '/ip', method: 'POST' }))).toMatchObject({ allowed: true });
    expect(authorizer!.decide(request({ path: '/x', method: 'DELETE' }))).toMatchObject({ allowed: false, policy: 'foo/deny-delete' });
    expect(seen.map(([r, path]) => [path, r.action, r.wouldAllow, r.matched?.policy])).toEqual([
      ['/headers', 'DENY', false, 'foo/deny-headers'],
      ['/headers', 'ALLOW', true, 'foo/allow-get'],
      ['/ip', 'DENY', true, undefined],
      ['/ip', 'ALLOW', false, undefined],
      // The enforced DENY policy ended this one before the ALLOW step (and its shadow).
      ['/x', 'DENY', true, undefined],
    ]);
    expect(authorizer!.dryRunCounters).toEqual({ allowShadowAllowed: 1, allowShadowDenied: 1, denyShadowAllowed: 2, denyShadowDenied: 1 });
    expect(authorizer!.policies.find((p) => p.id === 'foo/deny-headers')!.matched).toBe(1);
  });

  it('a dry-run reporter that throws changes nothing', () => {
    const { authorizer } = compileAuthorization(resources(yaml).authorizationPolicies, {
      workload: FOO,
      onDryRun: () => {
        throw new Error('logger down');
      },
    });
    expect(authorizer!.decide(request({ path: '/headers' })).allowed).toBe(true);
  });
});

describe('AUDIT', () => {
  it('marks matching requests and never decides', () => {
    const { authorizer } = compileAuthorization(
      resources(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-profile, namespace: foo}
spec:
  action: AUDIT
  rules: [{to: [{operation: {paths: ["/user/profile/*"]}}]}]
`).authorizationPolicies,
      { workload: FOO },
    );
    expect(authorizer!.audited(request({ path: '/user/profile/1' }))?.policy).toBe('foo/audit-profile');
    expect(authorizer!.audited(request({ path: '/other' }))).toBeUndefined();
    expect(authorizer!.decide(request({ path: '/user/profile/1' }))).toMatchObject({ allowed: true, reason: 'no-policy' });
  });
});

describe('CUSTOM providers', () => {
  const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-admin, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: my-ext-authz}
  rules: [{to: [{operation: {paths: ["/admin/*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-post, namespace: foo}
spec:
  action: DENY
  rules: [{to: [{operation: {methods: [POST]}}]}]
`;

  it('a provider is asked only when its CUSTOM policy matches; its denial ends it, its allowance goes on to DENY/ALLOW', async () => {
    const calls: string[] = [];
    const check: AuthorizationCheck = (req) => {
      calls.push(req.path);
      return req.header('x-ext-authz') === 'allow' ? { allow: true, headers: { 'x-ext-authz-check-result': 'allowed' } } : { allow: false, status: 403, body: 'denied by ext_authz' };
    };
    const { authorizer } = compileAuthorization(resources(yaml).authorizationPolicies, { workload: FOO, authorization: { providers: { 'my-ext-authz': check } } });
    expect(authorizer!.hasCustom).toBe(true);
    expect(await authorizer!.authorize(request({ path: '/ip' }))).toMatchObject({ kind: 'decision', decision: { allowed: true } });
    expect(calls).toEqual([]);
    expect(await authorizer!.authorize(request({ path: '/admin/users' }))).toMatchObject({ kind: 'provider-denied', outcome: { status: 403, body: 'denied by ext_authz', provider: 'my-ext-authz' } });
    expect(await authorizer!.authorize(request({ path: '/admin/users', headers: { 'x-ext-authz': 'allow' } }))).toEqual({
      kind: 'decision',
      decision: expect.objectContaining({ allowed: true }),
      providerHeaders: { 'x-ext-authz-check-result': 'allowed' },
    });
    expect(await authorizer!.authorize(request({ path: '/admin/users', method: 'POST', headers: { 'x-ext-authz': 'allow' } }))).toMatchObject({ kind: 'decision', decision: { allowed: false, policy: 'foo/deny-post' } });
    expect(calls).toEqual(['/admin/users', '/admin/users', '/admin/users']);
  });

  it('a provider that throws, answers garbage or does not answer in time denies with statusOnError, or allows when failOpen', async () => {
    vi.useFakeTimers();
    const policies = resources(yaml).authorizationPolicies;
    const outcome = async (provider: Parameters<typeof resolveAuthorizationOptions>[0]): Promise<unknown> => {
      const { authorizer } = compileAuthorization(policies, { workload: FOO, authorization: provider });
      const pending = authorizer!.authorize(request({ path: '/admin/x' }));
      await vi.advanceTimersByTimeAsync(1000);
      return pending;
    };
    const throwing = { providers: { 'my-ext-authz': () => { throw new Error('boom'); } } };
    expect(await outcome(throwing)).toMatchObject({ kind: 'provider-denied', outcome: { status: 403, error: new Error('boom') } });
    expect(await outcome({ providers: { 'my-ext-authz': () => 'yes' as never } })).toMatchObject({ kind: 'provider-denied', outcome: { status: 403 } });
    let aborted = false;
    const hanging: AuthorizationCheck = (_req, { signal }) => new Promise(() => signal.addEventListener('abort', () => (aborted = true)));
    expect(await outcome({ providers: { 'my-ext-authz': { check: hanging, timeout: 500, statusOnError: 503 } } })).toMatchObject({ kind: 'provider-denied', outcome: { status: 503, error: expect.objectContaining({ message: expect.stringMatching(/did not answer within 500 ms/) }) } });
    expect(aborted).toBe(true);
    expect(await outcome({ providers: { 'my-ext-authz': { check: hanging, timeout: 500, failOpen: true } } })).toMatchObject({ kind: 'decision', decision: { allowed: true } });
  });

  it('a CUSTOM policy naming a provider the code did not register is a config error naming the field', () => {
    const compiled = compileAuthorization(resources(yaml).authorizationPolicies, { workload: FOO, authorization: { providers: { other: () => true } } });
    expect(compiled.authorizer).toBeUndefined();
    expect(compiled.findings).toEqual([expect.objectContaining({ severity: 'error', where: 'AuthorizationPolicy/foo/ext-admin', path: 'spec.provider.name', message: expect.stringMatching(/"my-ext-authz" is not a provider this mesh knows \(known: "other"\)/) })]);
    expect(() => compileSecurity(resources(yaml), { workload: FOO })).toThrow(InvalidConfigError);
    expect(() => compileSecurity(resources(yaml), { workload: FOO })).toThrow(/AuthorizationPolicy\/foo\/ext-admin: spec.provider.name: "my-ext-authz" is not a provider this mesh knows \(none is registered\)/);
  });

  it('provider options are validated, every problem named', () => {
    expect(() => resolveAuthorizationOptions({ providers: { a: { check: 'x' as never }, b: { check: () => true, timeout: -1, statusOnError: 99, failOpen: 'yes' as never } } })).toThrow(InvalidOptionError);
    try {
      resolveAuthorizationOptions({ providers: { a: { check: 'x' as never }, b: { check: () => true, timeout: -1, statusOnError: 99, failOpen: 'yes' as never } } });
    } catch (error) {
      expect((error as InvalidOptionError).problems).toEqual([
        'authorization.providers["a"]: {"check":"x"} (expected: a check function, or { check: function, timeout?, failOpen?, statusOnError? })',
        'authorization.providers["b"].timeout: -1 (expected: milliseconds, > 0 and <= 2147483647)',
        'authorization.providers["b"].failOpen: "yes" (expected: true or false)',
        'authorization.providers["b"].statusOnError: 99 (expected: an HTTP status, 200..599)',
      ]);
    }
    expect(() => resolveAuthorizationOptions({ providers: [] as never })).toThrow(/authorization.providers: \[\]/);
  });
});

describe('explain', () => {
  const yaml = `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-dev, namespace: foo}
spec:
  action: DENY
  rules: [{from: [{source: {namespaces: [dev]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: readers, namespace: foo}
spec:
  rules:
  - from: [{source: {principals: [cluster.local/ns/foo/sa/reader]}}]
    to: [{operation: {methods: [GET], paths: ["/api/*"]}}]
  - when: [{key: "request.headers[x-token]", values: [admin]}]
`;
  const { authorizer } = compileAuthorization(resources(yaml).authorizationPolicies, { workload: FOO });

  it('names the policy and rule that allowed', () => {
    const e = explainAuthorization(authorizer!, request({ peer: spiffe('foo', 'reader'), path: '/api/books' }));
    expect(e.decision).toMatchObject({ allowed: true, policy: 'foo/readers', rule: 0 });
    expect(e.lines[0]).toBe('ALLOWED by ALLOW policy foo/readers, rule 0');
  });

  it('names the DENY policy that denied', () => {
    const e = explainAuthorization(authorizer!, request({ peer: spiffe('dev', 'reader'), path: '/api/books' }));
    expect(e.lines[0]).toBe('DENIED (403) by DENY policy foo/deny-dev, rule 0');
  });

  it('says which field of each rule failed, with what it wanted and what the request had', () => {
    const e = explainAuthorization(authorizer!, request({ peer: spiffe('foo', 'writer'), method: 'POST', path: '/api/books' }));
    expect(e.decision).toMatchObject({ allowed: false, reason: 'no-allow-match' });
    expect(e.lines[0]).toBe('DENIED (403): 1 ALLOW policy applies and none matches');
    const readers = e.policies.find((p) => p.policy === 'foo/readers')!;
    expect(readers.rules[0]!.failed).toEqual([
      { path: 'spec.rules[0].from[0].source.principals', expected: 'one of ["cluster.local/ns/foo/sa/reader"]', observed: 'peer spiffe://cluster.local/ns/foo/sa/writer' },
      { path: 'spec.rules[0].to[0].operation.methods', expected: 'one of ["GET"]', observed: 'method "POST"' },
    ]);
    expect(readers.rules[1]!.failed).toEqual([{ path: 'spec.rules[1].when[0].values', expected: 'one of ["admin"]', observed: 'header x-token absent' }]);
    expect(e.lines.join('\n')).toMatch(/ALLOW policy foo\/readers: no rule matches \(rule 0: spec.rules\[0\].from\[0\].source.principals wants one of/);
  });

  it('counts and reports nothing, and agrees with decide', () => {
    const before = authorizer!.policies.map((p) => p.matched);
    const req = request({ peer: spiffe('foo', 'reader'), path: '/api/x' });
    explainAuthorization(authorizer!, req);
    expect(authorizer!.policies.map((p) => p.matched)).toEqual(before);
    expect(explainAuthorization(authorizer!, req).decision).toBe(authorizer!.decide(req));
  });
});

describe('selection and Istio fallbacks', () => {
  it('targetRefs never select this workload, with a warning', () => {
    const compiled = compileAuthorization(
      resources(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: gw, namespace: foo}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: ingress}]
`).authorizationPolicies,
      { workload: FOO },
    );
    expect(compiled.findings).toEqual([expect.objectContaining({ severity: 'warning', path: 'spec.targetRefs' })]);
    expect(compiled.authorizer!.decide(request()).reason).toBe('no-policy');
  });

  it('an unknown condition key drops the rule whatever the action; a bad value widens a DENY and drops an ALLOW rule, as Istio builds them', () => {
    const compiled = compileAuthorization(
      [
        { metadata: { name: 'deny', namespace: 'foo' }, spec: { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['bad', '10.0.0.0/8'] } }] }, { when: [{ key: 'destination.labels[x]', values: ['a'] }] }] } },
        { metadata: { name: 'allow', namespace: 'foo' }, spec: { rules: [{ from: [{ source: { ipBlocks: ['bad'] } }] }, { to: [{ operation: { paths: ['/ok'] } }] }] } },
      ],
      { workload: FOO },
    );
    // In Istio's order: by name ("allow" before "deny").
    expect(compiled.findings.map((f) => `${f.where} ${f.path}`)).toEqual(['AuthorizationPolicy/foo/allow spec.rules[0].from[0].source.ipBlocks', 'AuthorizationPolicy/foo/deny spec.rules[0].from[0].source.ipBlocks', 'AuthorizationPolicy/foo/deny spec.rules[1].when[0].values']);
    const authorizer = compiled.authorizer!;
    expect(authorizer.decide(request({ sourceIp: '10.1.1.1', path: '/ok' })).policy).toBe('foo/deny');
    expect(authorizer.decide(request({ sourceIp: '192.168.0.1', path: '/ok' }))).toMatchObject({ allowed: true, policy: 'foo/allow', rule: 1 });
    expect(authorizer.decide(request({ sourceIp: '192.168.0.1', path: '/no' })).allowed).toBe(false);
  });
});
