// The mesh's security state: options checked with errors naming the field, the security
// resources compiled per config version, an invalid version refused whole (the last good
// one stays in force), and the warnings of security resources shown at load.
import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError, InvalidOptionError } from 'proxyless';

const denyAll = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-all, namespace: default }
spec: {}
`;
const custom = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: default }
spec: { action: CUSTOM, provider: { name: nobody }, rules: [{}] }
`;

describe('mesh security options and config versions', () => {
  it('identity and authorization options are checked, naming the field and what is expected', () => {
    expect(() => createMesh({ identity: {} as never })).toThrow(InvalidOptionError);
    expect(() => createMesh({ identity: {} as never })).toThrow(/identity: .*expected: an identity source such as identityFromFiles/);
    expect(() => createMesh({ authorization: { providers: { x: 5 as never } } })).toThrow(/authorization\.providers\["x"\]: 5 \(expected: a check function/);
    expect(() => createMesh({ authorization: { other: 1 } as never })).toThrow(/authorization\.other: unknown field/);
  });

  it('a version whose security resources do not compile is refused whole; the last good one stays in force', async () => {
    const mesh = createMesh({ config: [denyAll] });
    try {
      expect(mesh.explainInbound({ url: '/' }).authorization.decision.allowed).toBe(false);
      expect(() => mesh.applyConfig([custom])).toThrow(InvalidConfigError);
      expect(() => mesh.applyConfig([custom])).toThrow(/AuthorizationPolicy\/default\/ext: spec\.provider\.name: "nobody" is not a provider this mesh knows/);
      // Still the deny-all version.
      expect(mesh.explainInbound({ url: '/' }).lines).toContain('DENIED (403): 1 ALLOW policy applies and none matches');
      mesh.applyConfig([]);
      expect(mesh.explainInbound({ url: '/' }).authorization.decision.allowed).toBe(true);
    } finally {
      await mesh.close();
    }
  });

  it('security warnings are the mesh warnings too (printed at load)', async () => {
    const mesh = createMesh({
      config: [
        `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: gateway-only, namespace: default }
spec: { targetRefs: [{ kind: Gateway, group: gateway.networking.k8s.io, name: gw }], rules: [{}] }
`,
      ],
    });
    try {
      expect(mesh.warnings.join('\n')).toMatch(/gateway-only/);
    } finally {
      await mesh.close();
    }
  });

  it('mesh.identity() is undefined without an identity source, and identityReady() says why', async () => {
    const mesh = createMesh();
    try {
      expect(mesh.identity()).toBeUndefined();
      await expect(mesh.identityReady()).rejects.toThrow(/createMesh\(\{ identity \}\) was not given an identity source/);
    } finally {
      await mesh.close();
    }
  });
});
