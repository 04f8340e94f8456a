import { describe, expect, it } from 'vitest';
import { compilePolicies } from '../../../src/security/authz-compile.js';
import type { AuthorizationPolicyResource } from '../../../src/security/index.js';
import { PolicyGroup, ruleKey } from '../../../src/security/rule-index.js';
import { request, spiffe } from './security-helpers.js';

const WORKLOAD = { namespace: 'foo', labels: {} };

function group(resources: AuthorizationPolicyResource[]): PolicyGroup {
  return new PolicyGroup(compilePolicies(resources, WORKLOAD).policies);
}

const allow = (name: string, rules: NonNullable<AuthorizationPolicyResource['spec']['rules']>): AuthorizationPolicyResource => ({ metadata: { name, namespace: 'foo' }, spec: { rules } });

describe('rule index', () => {
  it('files a rule under a key every source, every operation or a condition requires exactly', () => {
    const [p] = compilePolicies(
      [
        allow('p', [
          { from: [{ source: { principals: ['cluster.local/ns/a/sa/x'] } }, { source: { principals: ['cluster.local/ns/b/sa/y'], namespaces: ['b'] } }] },
          { from: [{ source: { principals: ['a'] } }, { source: { namespaces: ['b'] } }], to: [{ operation: { paths: ['/x', '/y'] } }] },
          { from: [{ source: { notPrincipals: ['a'] } }], when: [{ key: 'request.headers[x-a]', values: ['1'] }] },
          { to: [{ operation: { paths: ['/p*'], methods: ['GET'] } }] },
          { from: [{ source: { principals: ['*'] } }], to: [{ operation: { notPaths: ['/x'] } }] },
        ]),
      ],
      WORKLOAD,
    ).policies;
    expect(p!.rules.map((r) => ruleKey(r))).toEqual([
      { attribute: 'peer', values: ['spiffe://cluster.local/ns/a/sa/x', 'spiffe://cluster.local/ns/b/sa/y'] },
      // Not every source names principals: the operations' paths are the key.
      { attribute: 'path', values: ['/x', '/y'] },
      { attribute: 'header:x-a', values: ['1'] },
      { attribute: 'method', values: ['GET'] },
      undefined,
    ]);
  });

  it('the first matching rule in policy order wins, keyed or not, also when many rules are found', () => {
    const policies: AuthorizationPolicyResource[] = [];
    // 40 keyed rules found by one path (more than get sorted: every rule is scanned), an unkeyed one between.
    for (let i = 0; i < 40; i++) {
      policies.push(allow(`p${String(i).padStart(2, '0')}`, [{ to: [{ operation: { paths: ['/hot'] } }], from: [{ source: { principals: [`cluster.local/ns/foo/sa/s${i}`] } }] }]));
    }
    policies.push(allow('p20a', [{ from: [{ source: { namespaces: ['foo'] } }] }]));
    const g = group(policies);
    expect(g.firstMatch(request({ path: '/hot', peer: spiffe('foo', 's30') }))?.policy).toBe('foo/p20a');
    expect(g.firstMatch(request({ path: '/hot', peer: spiffe('foo', 's3') }))?.policy).toBe('foo/p03');
    expect(g.firstMatch(request({ path: '/hot', peer: spiffe('bar', 's3') }))).toBeUndefined();
    expect(g.firstMatch(request({ path: '/cold', peer: spiffe('foo', 's3') }))?.policy).toBe('foo/p20a');
  });

  it('keeps working when the per-request stamp wraps around', () => {
    const g = group([allow('a', [{ to: [{ operation: { paths: ['/a'] } }] }]), allow('b', [{ to: [{ operation: { paths: ['/b'] } }] }])]);
    (g as unknown as { epoch: number }).epoch = 0xfffffffd;
    const seen = [];
    for (let i = 0; i < 6; i++) seen.push(g.firstMatch(request({ path: i % 2 === 0 ? '/a' : '/b' }))?.policy);
    expect(seen).toEqual(['foo/a', 'foo/b', 'foo/a', 'foo/b', 'foo/a', 'foo/b']);
    expect(g.firstMatch(request({ path: '/c' }))).toBeUndefined();
  });
});
