// mesh.explainInbound, `proxyless explain --inbound` and `proxyless check` on security
// resources: which policy decided and why, and the security compile errors and warnings.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh } from 'proxyless';
import { checkConfig } from 'proxyless/config';
import { explain } from '../../../src/cli/explain.js';

const CONFIG = `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }]
    to: [{ operation: { methods: ["GET"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin/*"], ports: ["9080"] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext, namespace: default }
spec:
  action: CUSTOM
  provider: { name: opa }
  rules: [{ to: [{ operation: { paths: ["/private"] } }] }]
`;
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';

let dir: string;
let file: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-explain-'));
  file = join(dir, 'security.yaml');
  writeFileSync(file, CONFIG);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await explain(args, { out: (s) => void (out += s), err: (s) => void (err += s) }, 'usage');
  return { code, out, err };
}

describe('explaining the server side', () => {
  it('mesh.explainInbound names the policy that decided, and the field that failed for the others', async () => {
    const mesh = createMesh({ config: [CONFIG], labels: { app: 'reviews' }, authorization: { providers: { opa: () => true } } });
    try {
      const denied = mesh.explainInbound({ url: '/admin/users', port: 9080, peer: PRODUCTPAGE });
      expect(denied.authorization.decision.allowed).toBe(false);
      expect(denied.lines).toContain('DENIED (403) by DENY policy default/deny-admin, rule 0');
      const plaintext = mesh.explainInbound({ url: '/reviews/1', port: 9080 });
      expect(plaintext.refusedByMtls).toBe(true);
      expect(plaintext.lines[0]).toBe('REFUSED: plaintext on port 9080, which is STRICT (the connection is refused before any policy)');
      expect(plaintext.lines).toContain(
        'ALLOW policy default/reviews-viewer: no rule matches (rule 0: spec.rules[0].from[0].source.principals wants one of ["cluster.local/ns/default/sa/productpage"], got no peer identity (plaintext))',
      );
      const allowed = mesh.explainInbound({ url: '/reviews/1', port: 9080, peer: PRODUCTPAGE });
      expect(allowed.lines.slice(0, 3)).toEqual(['mTLS: STRICT on port 9080, from mesh policy istio-system/default', `peer: ${PRODUCTPAGE}`, 'ALLOWED by ALLOW policy default/reviews-viewer, rule 0']);
      expect(() => mesh.explainInbound({ url: '/', peer: 'productpage' })).toThrow(/peer: "productpage" \(expected: a SPIFFE ID/);
    } finally {
      await mesh.close();
    }
  });

  it('proxyless explain --inbound prints the decision (exit 3 when refused, 0 when allowed), CUSTOM providers stood in for', async () => {
    const denied = await run(['--inbound', '--config', file, '--label', 'app=reviews', '--port', '9080', '--peer', PRODUCTPAGE, 'http://reviews/admin/x']);
    expect(denied.err).toBe('');
    expect(denied.code).toBe(3);
    expect(denied.out).toContain('DENIED (403) by DENY policy default/deny-admin, rule 0');
    const allowed = await run(['--inbound', '--config', file, '--label', 'app=reviews', '--port', '9080', '--peer', PRODUCTPAGE, 'http://reviews/x']);
    expect(allowed.code).toBe(0);
    expect(allowed.out).toContain('ALLOWED by ALLOW policy default/reviews-viewer, rule 0');
  });
});

describe('proxyless check on security resources', () => {
  it('compiles them as the mesh does: an unregistered CUSTOM provider is an error when the providers are given, with its field path', () => {
    expect(checkConfig(CONFIG).errors).toEqual([]);
    const result = checkConfig(CONFIG, { providers: ['ext-authz'] });
    expect(result.errors).toEqual([
      expect.objectContaining({ where: 'AuthorizationPolicy/default/ext', path: 'spec.provider.name', message: expect.stringContaining('"opa" is not a provider this mesh knows') }),
    ]);
  });

  it('reports the security warnings (an HTTP-only DENY rule without ports) with the rest', () => {
    const result = checkConfig(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }]
`);
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => w.message).join('\n')).toMatch(/this DENY rule uses only HTTP attributes/);
  });
});
