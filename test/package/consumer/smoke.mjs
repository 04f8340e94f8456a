// ESM: a request through the mesh to a real server, three ways. Prints one JSON line.
import { createServer } from 'node:http';
import { createMesh, staticEndpoints } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';

const server = createServer((req, res) => res.end(`hello ${req.headers.host}`));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [`127.0.0.1:${server.address().port}`] })] });
const res = await mesh.fetch('http://reviews/');
const viaRequest = await mesh.fetch(new Request('http://reviews/request'));
const viaGlobal = await fetch('http://reviews/global', { dispatcher: mesh.dispatcher });
console.log(JSON.stringify({
  format: 'esm',
  node: process.version,
  platformResponse: res instanceof Response,
  bodies: [await res.text(), await viaRequest.text(), await viaGlobal.text()],
  etcdDiscovery: typeof etcdDiscovery,
}));
await mesh.close();
server.close();
