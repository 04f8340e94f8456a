import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolvePeerAuthentication, type MtlsMode, type PeerAuthenticationMode, type PeerAuthenticationResource, type SecurityFinding } from '../../../src/security/index.js';
import { resources } from './security-helpers.js';

const WORKLOAD = { namespace: 'foo', labels: { app: 'finance', version: 'v1' } };

function pa(name: string, namespace: string, spec: PeerAuthenticationResource['spec'], creationTimestamp?: string): PeerAuthenticationResource {
  return { kind: 'PeerAuthentication', metadata: { name, namespace, ...(creationTimestamp !== undefined && { creationTimestamp }) }, spec };
}

const mode = (m: PeerAuthenticationMode | undefined): PeerAuthenticationResource['spec'] => (m === undefined ? {} : { mtls: { mode: m } });

describe('PeerAuthentication composition (ComposePeerAuthentication)', () => {
  it('no policy at all is PERMISSIVE on every port', () => {
    const d = resolvePeerAuthentication([], WORKLOAD);
    expect(d.mode(8080)).toBe('PERMISSIVE');
    expect(d.explain(8080)).toMatchObject({ source: 'default', mode: 'PERMISSIVE' });
  });

  it('the issue seed: STRICT mesh-wide with a PERMISSIVE namespace exception', () => {
    const { peerAuthentications } = resources(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: legacy}
spec: {mtls: {mode: PERMISSIVE}}
`);
    expect(resolvePeerAuthentication(peerAuthentications, WORKLOAD).mode(8080)).toBe('STRICT');
    expect(resolvePeerAuthentication(peerAuthentications, { namespace: 'legacy', labels: {} }).mode(8080)).toBe('PERMISSIVE');
  });

  it('narrowest wins: workload over namespace over mesh; UNSET inherits from the scope above', () => {
    const cases: Array<[PeerAuthenticationMode | undefined, PeerAuthenticationMode | undefined, PeerAuthenticationMode | undefined, MtlsMode]> = [
      ['STRICT', undefined, undefined, 'STRICT'],
      ['STRICT', 'DISABLE', undefined, 'DISABLE'],
      ['STRICT', 'DISABLE', 'PERMISSIVE', 'PERMISSIVE'],
      ['STRICT', 'UNSET', undefined, 'STRICT'],
      ['DISABLE', 'UNSET', 'UNSET', 'DISABLE'],
      ['UNSET', undefined, undefined, 'PERMISSIVE'],
      [undefined, 'STRICT', 'UNSET', 'STRICT'],
      [undefined, undefined, 'STRICT', 'STRICT'],
    ];
    for (const [mesh, ns, wl] of cases) {
      const list = [
        ...(mesh !== undefined ? [pa('mesh', 'istio-system', mode(mesh))] : []),
        ...(ns !== undefined ? [pa('ns', 'foo', mode(ns))] : []),
        ...(wl !== undefined ? [pa('wl', 'foo', { selector: { matchLabels: { app: 'finance' } }, ...mode(wl) })] : []),
      ];
      expect(resolvePeerAuthentication(list, WORKLOAD).mode(1), `${mesh}/${ns}/${wl}`).toBe(cases.find((c) => c[0] === mesh && c[1] === ns && c[2] === wl)![3]);
    }
  });

  it('portLevelMtls overrides the workload mode for its ports; UNSET takes the workload mode', () => {
    const { peerAuthentications } = resources(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: finance, namespace: foo}
spec:
  selector: {matchLabels: {app: finance}}
  mtls: {mode: PERMISSIVE}
  portLevelMtls:
    8080: {mode: DISABLE}
    "9090": {mode: UNSET}
`);
    const d = resolvePeerAuthentication(peerAuthentications, WORKLOAD);
    expect(d.mode(8080)).toBe('DISABLE');
    expect(d.mode(9090)).toBe('PERMISSIVE');
    expect(d.mode(7070)).toBe('PERMISSIVE');
    expect(d.explain(8080)).toMatchObject({ source: 'port', policy: 'foo/finance' });
    expect(d.explain(7070)).toMatchObject({ source: 'workload', policy: 'foo/finance' });
    expect(d.explain(9090).text).toMatch(/UNSET: the workload mode/);
  });

  it('the oldest policy of a scope wins; on equal (or absent) times the name decides, as Istio sorts', () => {
    const older = pa('zz-older', 'foo', mode('STRICT'), '2024-01-01T00:00:00Z');
    const newer = pa('aa-newer', 'foo', mode('DISABLE'), '2025-01-01T00:00:00Z');
    const findings: SecurityFinding[] = [];
    expect(resolvePeerAuthentication([newer, older], WORKLOAD, { onFinding: (f) => findings.push(f) }).mode(1)).toBe('STRICT');
    expect(findings.map((f) => f.where)).toEqual(['PeerAuthentication/foo/aa-newer']);
    // No creation times: "a" sorts before "b".
    expect(resolvePeerAuthentication([pa('b', 'foo', mode('DISABLE')), pa('a', 'foo', mode('STRICT'))], WORKLOAD).mode(1)).toBe('STRICT');
    // Absent is older than any time (Go's zero time).
    expect(resolvePeerAuthentication([pa('a', 'foo', mode('DISABLE'), '2020-01-01T00:00:00Z'), pa('b', 'foo', mode('STRICT'))], WORKLOAD).mode(1)).toBe('STRICT');
    const w1 = pa('w1', 'foo', { selector: { matchLabels: { app: 'finance' } }, ...mode('STRICT') }, '2024-06-01T00:00:00Z');
    const w2 = pa('w2', 'foo', { selector: { matchLabels: { version: 'v1' } }, ...mode('DISABLE') }, '2024-01-01T00:00:00Z');
    expect(resolvePeerAuthentication([w1, w2], WORKLOAD).mode(1)).toBe('DISABLE');
  });

  it('a root-namespace policy with a selector is ignored, with a warning; other namespaces and non-matching selectors do not apply', () => {
    const findings: SecurityFinding[] = [];
    const d = resolvePeerAuthentication(
      [
        pa('root-selector', 'istio-system', { selector: { matchLabels: { app: 'finance' } }, ...mode('DISABLE') }),
        pa('other-ns', 'bar', mode('DISABLE')),
        pa('other-app', 'foo', { selector: { matchLabels: { app: 'web' } }, ...mode('DISABLE') }),
        pa('partial', 'foo', { selector: { matchLabels: { app: 'finance', version: 'v2' } }, ...mode('DISABLE') }),
      ],
      WORKLOAD,
      { onFinding: (f) => findings.push(f) },
    );
    expect(d.mode(1)).toBe('PERMISSIVE');
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ where: 'PeerAuthentication/istio-system/root-selector', path: 'spec.selector' });
  });

  it('a selector without labels is a namespace (or mesh) policy; the root namespace is configurable', () => {
    expect(resolvePeerAuthentication([pa('x', 'foo', { selector: { matchLabels: {} }, ...mode('STRICT') })], WORKLOAD).explain(1)).toMatchObject({ source: 'namespace', mode: 'STRICT' });
    expect(resolvePeerAuthentication([pa('x', 'mesh-root', { selector: {}, ...mode('STRICT') })], WORKLOAD, { rootNamespace: 'mesh-root' }).explain(1)).toMatchObject({ source: 'mesh', mode: 'STRICT' });
    expect(resolvePeerAuthentication([pa('x', 'istio-system', mode('STRICT'))], WORKLOAD, { rootNamespace: 'mesh-root' }).mode(1)).toBe('PERMISSIVE');
  });

  it('portLevelMtls of a namespace policy is not applied (only workload policies have ports)', () => {
    const d = resolvePeerAuthentication([pa('ns', 'foo', { mtls: { mode: 'STRICT' }, portLevelMtls: { '8080': { mode: 'DISABLE' } } })], WORKLOAD);
    expect(d.mode(8080)).toBe('STRICT');
  });

  it('property: the result never depends on the order the resources come in', () => {
    const modes = fc.constantFrom<PeerAuthenticationMode | undefined>('UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT', undefined);
    const resource = fc.record({
      name: fc.constantFrom('a', 'b', 'c', 'd'),
      namespace: fc.constantFrom('istio-system', 'foo', 'bar'),
      selector: fc.constantFrom<Record<string, string> | undefined>(undefined, { app: 'finance' }, { version: 'v1' }, { app: 'web' }, {}),
      mode: modes,
      port: fc.option(fc.record({ port: fc.constantFrom('8080', '9090'), mode: modes }), { nil: undefined }),
      time: fc.option(fc.constantFrom('2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z'), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.uniqueArray(resource, { selector: (r) => `${r.namespace}/${r.name}`, maxLength: 6 }), fc.infiniteStream(fc.nat()), (list, random) => {
        const prs = list.map((r) =>
          pa(r.name, r.namespace, { ...(r.selector && { selector: { matchLabels: r.selector } }), ...mode(r.mode), ...(r.port && r.selector && Object.keys(r.selector).length > 0 && { portLevelMtls: { [r.port.port]: r.port.mode === undefined ? {} : { mode: r.port.mode } } }) }, r.time),
        );
        const shuffled = [...prs];
        const it = random[Symbol.iterator]();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = it.next().value! % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
        }
        const a = resolvePeerAuthentication(prs, WORKLOAD);
        const b = resolvePeerAuthentication(shuffled, WORKLOAD);
        for (const port of [8080, 9090, 1]) expect(b.mode(port)).toBe(a.mode(port));
      }),
      { numRuns: 300 },
    );
  });
});
