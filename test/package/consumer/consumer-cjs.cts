// The same from a CommonJS module: the `require` declarations (index.d.cts).
import { createMesh, staticEndpoints } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';

async function main(): Promise<void> {
  const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] }), etcdDiscovery({ endpoints: ['http://127.0.0.1:2379'] })] });
  const viaMesh: Response = await mesh.fetch('http://reviews/');
  const viaGlobal: Response = await fetch('http://reviews/', { dispatcher: mesh.dispatcher });
  console.log(viaMesh.status, viaGlobal.status);
  await mesh.close();
}
void main();
