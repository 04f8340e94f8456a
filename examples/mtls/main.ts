// Mutual TLS and authorization between two workloads, in one process for the show:
//
// 1. a dev CA is made in a temporary directory (as `proxyless certs ca create` does);
// 2. `reviews` serves with an SVID from it, STRICT mTLS mesh-wide, and an
//    AuthorizationPolicy that lets only `productpage` call it;
// 3. `productpage` calls it (auto mTLS: the endpoint is labelled
//    security.istio.io/tlsMode=istio) and is served; `stranger`, with a valid SVID of the
//    same CA, is denied (403 RBAC: access denied); a plaintext caller is refused;
// 4. both identities rotate about every second while productpage keeps calling (until the
//    server rotated twice): no request fails and the server's certificate changes.
//
//   npx tsx --conditions=proxyless-source examples/mtls/main.ts
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createMesh, devIdentity, staticEndpoints, type Mesh, type MeshIncomingMessage } from 'proxyless';
import { createDevCa, writeDevCa } from 'proxyless/tls';

const caDir = mkdtempSync(join(tmpdir(), 'proxyless-example-ca-'));
writeDevCa(caDir, createDevCa({ trustDomain: 'cluster.local' }));
const id = (sa: string, ttl = '1h', rotationRatio?: number) => devIdentity({ caDir, spiffeId: `spiffe://cluster.local/ns/default/sa/${sa}`, ttl, ...(rotationRatio !== undefined && { rotationRatio }) });

const config = [
  `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`,
  `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: reviews-viewer, namespace: default }
spec:
  selector: { matchLabels: { app: reviews } }
  rules:
  - from: [{ source: { principals: ["cluster.local/ns/default/sa/productpage"] } }]
    to: [{ operation: { methods: ["GET"] } }]
`,
];

// A 10 s lifetime renewed at 10 % (± 5 %): about one rotation a second.
const reviews = createMesh({ identity: id('reviews', '10s', 0.1), labels: { app: 'reviews' }, config });
await reviews.identityReady();
const served = new Set<string>();
const server = reviews.createServer((req: MeshIncomingMessage, res) => {
  served.add((req.socket as TLSSocket).getX509Certificate?.()?.serialNumber ?? '');
  res.end(`reviews for ${req.mesh.peer?.principal}\n`);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;
console.log(`reviews listening on 127.0.0.1:${port} as ${reviews.identity()!.spiffeId} (STRICT)`);

const caller = async (sa: string, ttl?: string, ratio?: number): Promise<Mesh> => {
  const mesh = createMesh({ identity: id(sa, ttl, ratio), discovery: [staticEndpoints({ reviews: [{ address: '127.0.0.1', port, labels: { 'security.istio.io/tlsMode': 'istio' } }] })] });
  await mesh.identityReady();
  return mesh;
};
const productpage = await caller('productpage', '10s', 0.1);
const stranger = await caller('stranger');
const plaintext = createMesh({ discovery: [staticEndpoints({ reviews: [`127.0.0.1:${port}`] })] });

try {
  for (const [name, mesh] of [['productpage', productpage], ['stranger', stranger], ['plaintext', plaintext]] as const) {
    const res = await mesh.fetch('http://reviews/reviews/1');
    console.log(`${name.padEnd(11)} -> ${res.status} ${(await res.text()).trim()}`);
  }
  console.log(reviews.explainInbound({ url: '/reviews/1', peer: 'spiffe://cluster.local/ns/default/sa/stranger', port }).lines.slice(0, 3).join('\n'));

  let rotations = 0;
  reviews.on('identityRotated', () => rotations++);
  let ok = 0;
  let failed = 0;
  served.clear();
  // Traffic until the server rotated twice and served new certificates (at most 30 s).
  const giveUp = Date.now() + 30_000;
  const done = (): boolean => (rotations >= 2 && served.size >= 3) || Date.now() > giveUp;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (!done()) {
        const res = await productpage.fetch('http://reviews/reviews/1', { headers: ok % 10 === 0 ? { connection: 'close' } : {} }).catch(() => undefined);
        if (res?.status === 200) ok++;
        else failed++;
        await res?.text();
      }
    }),
  );
  console.log(`rotation under traffic: ${ok} requests ok, ${failed} failed, ${rotations} server rotations, ${served.size} server certificates served`);
} finally {
  await Promise.all([productpage.close(), stranger.close(), plaintext.close()]);
  server.close();
  server.closeAllConnections();
  await reviews.close();
  rmSync(caDir, { recursive: true, force: true });
}
