// The public API as an application in TypeScript uses it (ESM). Type-checked, not run.
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';

const mesh: Mesh = createMesh({
  discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] }), etcdDiscovery({ endpoints: ['http://127.0.0.1:2379'] })],
});
// mesh.fetch returns the platform's Response and takes the platform's Request.
const viaMesh: Response = await mesh.fetch('http://reviews/');
const viaRequest: Response = await mesh.fetch(new Request('http://reviews/', { method: 'POST', body: 'x' }));
// @types/node's global fetch takes mesh.dispatcher without a cast.
const viaGlobal: Response = await fetch('http://reviews/', { dispatcher: mesh.dispatcher });
// mesh.fetch fits where a library asks for a fetch.
const asFetch: typeof fetch = mesh.fetch;
console.log(viaMesh.status, viaRequest.status, viaGlobal.status, asFetch);
await mesh.close();
