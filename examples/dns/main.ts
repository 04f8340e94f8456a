// DNS discovery: the mesh finds `reviews` in DNS, from SRV records whose weights become
// endpoint weights, and keeps the answer fresh in the background.
//
// To run on its own, this example starts what a cluster would provide: three replicas on
// 127.0.0.1 and a local DNS server (dnsmasq, Debian package dnsmasq-base) answering
//   _http._tcp.reviews.shop.svc.cluster.local  SRV  weights 1, 2, 3  → the replicas' ports
// The part to copy into your program is the createMesh call.
//
//   npx tsx --conditions=proxyless-source examples/dns/main.ts
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, dns } from 'proxyless';
import { findDnsmasq, startLocalDns } from '../demo/local-dns.js';

const binary = findDnsmasq();
if (binary === undefined) {
  console.log('dnsmasq is not installed. To run this example: sudo apt-get install dnsmasq-base');
  process.exit(0);
}

// --- The environment: three replicas, and DNS records for them ----------------------
async function startReplica(name: string): Promise<{ name: string; server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(name));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { name, server, port: (server.address() as AddressInfo).port };
}
const replicas = [await startReplica('reviews-1'), await startReplica('reviews-2'), await startReplica('reviews-3')];
const srvName = '_http._tcp.reviews.shop.svc.cluster.local';
const stop = new AbortController();
const server = await startLocalDns(
  binary,
  {
    srv: replicas.map((r, i) => ({ name: srvName, priority: 0, weight: i + 1, port: r.port, target: `${r.name}.reviews.shop.svc.cluster.local` })),
    a: replicas.map((r) => [`${r.name}.reviews.shop.svc.cluster.local`, '127.0.0.1'] as const),
    localDomains: ['cluster.local'],
    ttl: 5,
  },
  stop.signal,
);
console.log(`dnsmasq on ${server.address} answers ${srvName}:`);
for (const r of await server.resolveSrv(srvName)) console.log(`  SRV ${r.priority} ${r.weight} ${r.port} ${r.target}`);

// --- The program: a mesh that discovers services in DNS -----------------------------
const mesh = createMesh({
  namespace: 'shop', // `http://reviews/` is reviews.shop.svc.cluster.local
  discovery: [dns({ servers: [server.address], srv: true })], // SRV first, then A/AAAA
  // ROUND_ROBIN follows endpoint weights exactly (the default balancer weighs latency too).
  config: `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec: { host: reviews, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
`,
});
await mesh.ready({ timeout: 10_000 });

const counts = new Map<string, number>();
for (let i = 0; i < 60; i++) {
  const name = await (await mesh.fetch('http://reviews/')).text();
  counts.set(name, (counts.get(name) ?? 0) + 1);
}
console.log('60 requests to http://reviews/:');
for (const r of replicas) console.log(`  ${r.name} (port ${r.port}): ${counts.get(r.name) ?? 0}`);
for (const service of mesh.services()) {
  console.log(`mesh.services(): ${service.name}, endpoints ${service.endpoints.map((e) => `${e.key} weight ${e.weight}`).join(', ')}`);
}
for (const source of mesh.sources()) console.log(`mesh.sources(): ${source.name} ready=${source.ready}`);

await mesh.close();
await server.stop();
for (const r of replicas) r.server.close();
