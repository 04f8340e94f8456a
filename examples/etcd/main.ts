// etcd: replicas register themselves, the mesh discovers them, and a replica that
// deregisters stops getting traffic, with no failed request.
//
// To run on its own, this example starts a one-member etcd on 127.0.0.1 (Debian package
// etcd-server, /usr/bin/etcd or ETCD_BIN) and three replicas. The parts to copy are the
// register() calls (in each replica) and the createMesh call (in the client).
//
//   npx tsx --conditions=proxyless-source examples/etcd/main.ts
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { etcdDiscovery, register, type Registration } from '@proxyless/etcd';
import { createMesh } from 'proxyless';
import { findEtcd, startLocalEtcd } from '../demo/local-etcd.js';

const binary = findEtcd();
if (binary === undefined) {
  console.log('etcd is not installed. To run this example: sudo apt-get install etcd-server');
  process.exit(0);
}
const stop = new AbortController();
const etcd = await startLocalEtcd(binary, stop.signal);
const endpoints = [etcd.clientUrl];
console.log(`etcd ${etcd.version} at ${etcd.clientUrl}`);

// --- Each replica registers itself: /services/reviews/<instance-id>, under a lease ---
interface Replica {
  name: string;
  server: Server;
  registration: Registration;
}
async function startReplica(name: string): Promise<Replica> {
  const server = createServer((_req, res) => res.end(name));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  // `server` also makes SIGTERM deregister first, then close the server.
  const registration = register({ endpoints, service: 'reviews', instanceId: name, endpoint: { address: '127.0.0.1', port, labels: { version: 'v1' } }, server });
  await registration.ready();
  console.log(`${name} registered as ${registration.key} (127.0.0.1:${port})`);
  return { name, server, registration };
}
const replicas = [await startReplica('reviews-1'), await startReplica('reviews-2'), await startReplica('reviews-3')];

// --- The client: a mesh that watches the prefix ------------------------------------
const mesh = createMesh({ discovery: [etcdDiscovery({ endpoints, prefix: '/services' })] });
await mesh.ready({ timeout: 10_000 });
const endpointCount = (): number => mesh.services().find((s) => s.name.startsWith('reviews.'))?.endpoints.length ?? 0;

/** Sends `n` requests and counts the answers per replica; a failed request is counted too. */
async function send(n: number, label: string): Promise<void> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    let who: string;
    try {
      who = await (await mesh.fetch('http://reviews/')).text();
    } catch (error) {
      who = `failed (${((error as { cause?: Error }).cause ?? (error as Error)).message})`;
    }
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  console.log(`${label}: ${[...counts].sort().map(([who, c]) => `${who} ${c}`).join(', ')}`);
}

await send(30, 'before');
console.log(`mesh.services(): ${endpointCount()} endpoints of reviews`);

// reviews-3 leaves: its lease is revoked and its key deleted; the mesh's watch drops it.
await replicas[2]!.registration.close();
console.log('reviews-3 deregistered (registration.close())');
for (let waited = 0; endpointCount() !== 2 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
console.log(`mesh.services(): ${endpointCount()} endpoints of reviews`);
await send(30, 'after');

await mesh.close();
for (const r of replicas.slice(0, 2)) await r.registration.close();
for (const r of replicas) r.server.close();
await etcd.stop();
