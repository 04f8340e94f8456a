// The same from a CommonJS module: the `require` declarations (index.d.cts).
import { createMesh, InvalidConfigError, staticEndpoints } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';
import { roundRobin } from 'proxyless/balance';
import { breakerSettings, type BreakerSettings } from 'proxyless/policy';
import { parseMeshYaml } from 'proxyless/config';
import { endpointKey } from 'proxyless/discovery';
import { parseTraceParent } from 'proxyless/telemetry';
import { compileSecurity } from 'proxyless/security';
import { SpiffeId } from 'proxyless/tls';
import { parseGrpcTimeout } from 'proxyless/inbound';
import type { ConfigDump } from 'proxyless/admin';

const breaker: BreakerSettings = breakerSettings({}, 'consumer');
const dump: ConfigDump | undefined = undefined;
console.log(dump, parseTraceParent('')?.traceId, compileSecurity({}, { workload: { namespace: 'default', labels: {} } }).warnings, SpiffeId.parse('spiffe://cluster.local/x').path, parseGrpcTimeout('1S'));
console.log(roundRobin(), breaker, parseMeshYaml('', 'empty.yaml').length, endpointKey({ address: '::1', port: 80 }), InvalidConfigError.name);

async function main(): Promise<void> {
  const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] }), etcdDiscovery({ endpoints: ['http://127.0.0.1:2379'] })] });
  const viaMesh: Response = await mesh.fetch('http://reviews/');
  const viaGlobal: Response = await fetch('http://reviews/', { dispatcher: mesh.dispatcher });
  console.log(viaMesh.status, viaGlobal.status);
  await mesh.close();
}
void main();
