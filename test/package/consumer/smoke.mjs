// ESM: a request through the mesh to a real server, three ways. Prints one JSON line.
import { createServer } from 'node:http';
import { createMesh, InvalidConfigError, InvalidSpiffeIdError, staticEndpoints } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';
import { roundRobin } from 'proxyless/balance';
import { breakerSettings } from 'proxyless/policy';
import { parseMeshYaml } from 'proxyless/config';
import { endpointKey } from 'proxyless/discovery';
import { parseTraceParent } from 'proxyless/telemetry';
import { compileSecurity } from 'proxyless/security';
import { SpiffeId } from 'proxyless/tls';
import { parseGrpcTimeout } from 'proxyless/inbound';
// Types only: the entry loads, with no values.
import * as adminEntry from 'proxyless/admin';

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
  subpaths: subpaths(),
}));
await mesh.close();
server.close();
