// CommonJS: the same through require().
const { createServer } = require('node:http');
const { createMesh, InvalidConfigError, staticEndpoints } = require('proxyless');
const { etcdDiscovery } = require('@proxyless/etcd');
const { roundRobin } = require('proxyless/balance');
const { breakerSettings } = require('proxyless/policy');
const { parseMeshYaml } = require('proxyless/config');
const { endpointKey } = require('proxyless/discovery');

// Each subpath entry loads, and shares the root's classes (one InvalidConfigError).
function subpaths() {
  let sharedErrorClass = false;
  try {
    breakerSettings({ volumeThreshold: -1 }, 'smoke');
  } catch (error) {
    sharedErrorClass = error instanceof InvalidConfigError;
  }
  const resources = parseMeshYaml('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: r }\nspec: { host: r }\n', 'smoke.yaml');
  return { balance: typeof roundRobin().pick, sharedErrorClass, config: resources.length, discovery: endpointKey({ address: '::1', port: 80 }) };
}

(async () => {
  const server = createServer((req, res) => res.end(`hello ${req.headers.host}`));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [`127.0.0.1:${server.address().port}`] })] });
  const res = await mesh.fetch('http://reviews/');
  const viaRequest = await mesh.fetch(new Request('http://reviews/request'));
  const viaGlobal = await fetch('http://reviews/global', { dispatcher: mesh.dispatcher });
  console.log(JSON.stringify({
    format: 'cjs',
    node: process.version,
    platformResponse: res instanceof Response,
    bodies: [await res.text(), await viaRequest.text(), await viaGlobal.text()],
    etcdDiscovery: typeof etcdDiscovery,
    subpaths: subpaths(),
  }));
  await mesh.close();
  server.close();
})();
