// Quick start: a mesh over two local replicas of a `reviews` service, called by name.
//
//   npx tsx --conditions=proxyless-source examples/quick-start/main.ts
//
// In your own project, `npm install proxyless` and run it with `npx tsx main.ts`.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, staticEndpoints } from 'proxyless';

/** A replica on 127.0.0.1 (a free port) that answers with its name and what it was asked. */
async function startReplica(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ replica: name, path: req.url, host: req.headers.host }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

const one = await startReplica('reviews-1');
const two = await startReplica('reviews-2');

// Where `reviews` runs: the replicas' addresses. In production this is DNS, a file, etcd...
const mesh = createMesh({
  discovery: [
    staticEndpoints({
      reviews: [`127.0.0.1:${one.port}`, { address: '127.0.0.1', port: two.port, weight: 2, labels: { version: 'v2' } }],
    }),
  ],
});

// The URL's host is the service name; the mesh picks a replica for each request.
for (let i = 1; i <= 6; i++) {
  const res = await mesh.fetch(`http://reviews/api/reviews/${i}`);
  const body = (await res.json()) as { replica: string; path: string; host: string };
  console.log(`${res.status} ${body.path} answered by ${body.replica} (Host: ${body.host})`);
}

// What the mesh knows: each service, its balancer and its endpoints.
for (const service of mesh.services()) {
  console.log(`${service.name}:${service.port} balancer=${service.balancer}`);
  for (const e of service.endpoints) console.log(`  ${e.key} weight=${e.weight} available=${e.available} failures=${e.failures}`);
}

await mesh.close(); // lets in-flight requests finish, then closes every connection
one.server.close();
two.server.close();
