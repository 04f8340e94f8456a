// CommonJS: the same through require().
const { createServer } = require('node:http');
const { createMesh, InvalidConfigError, InvalidSpiffeIdError, staticEndpoints } = require('proxyless');
const { etcdDiscovery } = require('@proxyless/etcd');
const { roundRobin } = require('proxyless/balance');
const { breakerSettings } = require('proxyless/policy');
const { parseMeshYaml } = require('proxyless/config');
const { endpointKey } = require('proxyless/discovery');
const { parseTraceParent } = require('proxyless/telemetry');
const { compileSecurity } = require('proxyless/security');
const { SpiffeId } = require('proxyless/tls');
const { parseGrpcTimeout } = require('proxyless/inbound');
// Types only: the entry loads, with no values.
const adminEntry = require('proxyless/admin');

// Each subpath entry loads, and shares the root's classes (one InvalidConfigError, one
// InvalidSpiffeIdError).
function subpaths() {
  let sharedErrorClass = false;
  try {
    breakerSettings({ volumeThreshold: -1 }, 'smoke');
  } catch (error) {
    sharedErrorClass = error instanceof InvalidConfigError;
  }
  const resources = parseMeshYaml('apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: r }\nspec: { host: r }\n', 'smoke.yaml');
  let sharedTlsErrorClass = false;
  try {
    SpiffeId.parse('spiffe://Bad/x');
  } catch (error) {
    sharedTlsErrorClass = error instanceof InvalidSpiffeIdError;
  }
  return {
    balance: typeof roundRobin().pick,
    sharedErrorClass,
    config: resources.length,
    discovery: endpointKey({ address: '::1', port: 80 }),
    telemetry: parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')?.traceId,
    security: compileSecurity({}, { workload: { namespace: 'default', labels: {} } }).peerAuthentication.mode(8080),
    tls: SpiffeId.parse('spiffe://cluster.local/ns/a/sa/b').trustDomain,
    sharedTlsErrorClass,
    inbound: parseGrpcTimeout('2S'),
    adminValues: Object.keys(adminEntry).length,
  };
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
