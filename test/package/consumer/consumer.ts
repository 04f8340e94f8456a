// The public API as an application in TypeScript uses it (ESM). Type-checked, not run.
import { createMesh, destinationRule, isProxylessError, proxylessErrorOf, serviceLayers, staticEndpoints, type DestinationRule, type Mesh } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';
import { roundRobin, type Balancer, type BalancerEndpoint } from 'proxyless/balance';
import { breakerSettings, type BreakerSettings } from 'proxyless/policy';
import { checkConfig, parseMeshYaml, type ConfigCheck } from 'proxyless/config';
import { CatalogSource, endpointKey } from 'proxyless/discovery';
import { AccessLog, parseTraceParent, type TraceParent } from 'proxyless/telemetry';
import { compileSecurity, explainAuthorization, type CompiledSecurity, type AuthorizationPolicyResource } from 'proxyless/security';
import { BaseIdentitySource, SpiffeId, loadSvid, mtlsConnector, type VerifiedSvid } from 'proxyless/tls';
import type { Cluster, ConfigDump, DashboardFrame } from 'proxyless/admin';
import { lifecycleOf, LocalRateLimiter, parseGrpcTimeout, type InboundMesh, type LifecycleState } from 'proxyless/inbound';

// The subpath entries, typed.
const balancer: Balancer<BalancerEndpoint> = roundRobin();
const breaker: BreakerSettings = breakerSettings({ volumeThreshold: 5 }, 'consumer');
const checked: ConfigCheck = checkConfig(parseMeshYaml('kind: DestinationRule', 'consumer.yaml') as object[]);
const key: string = endpointKey({ address: '10.0.0.1', port: 80 });
console.log(balancer, breaker.volumeThreshold, checked.errors.length, key, typeof CatalogSource);
const parent: TraceParent | undefined = parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
const policy: AuthorizationPolicyResource = { metadata: { name: 'deny-all', namespace: 'default' }, spec: { action: 'DENY', rules: [{}] } };
const security: CompiledSecurity = compileSecurity({ authorizationPolicies: [policy] }, { workload: { namespace: 'default', labels: {} } });
const trustDomain: string = SpiffeId.parse('spiffe://cluster.local/ns/a/sa/b').trustDomain;
const grpcMs: number | undefined = parseGrpcTimeout('2S');
const verified: VerifiedSvid | undefined = undefined;
console.log(parent?.traceId, security.peerAuthentication.mode(8080), typeof explainAuthorization, typeof AccessLog, trustDomain, grpcMs, verified);
console.log(typeof BaseIdentitySource, typeof loadSvid, typeof mtlsConnector, typeof lifecycleOf, typeof LocalRateLimiter);
// Config from code: typed extension options, no JSON strings.
const rule: DestinationRule = destinationRule({
  metadata: { name: 'reviews' },
  spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
  circuitBreaker: { volumeThreshold: 20, resetTimeout: 30_000 },
  retryBudget: { percent: 20, ttl: '10s' },
});

const mesh: Mesh = createMesh({
  discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] }), etcdDiscovery({ endpoints: ['http://127.0.0.1:2379'] })],
  config: [rule],
  // A default layer put back elsewhere.
  stacks: { service: (stack) => stack.remove('hedge').insertAfter('breaker', serviceLayers.hedge) },
});
// Errors behind fetch's TypeError.
try {
  await mesh.fetch('http://reviews/');
} catch (error) {
  const status: number | undefined = proxylessErrorOf(error)?.statusCode;
  console.log(isProxylessError(error), status);
}
// mesh.fetch returns the platform's Response and takes the platform's Request.
const viaMesh: Response = await mesh.fetch('http://reviews/');
const viaRequest: Response = await mesh.fetch(new Request('http://reviews/', { method: 'POST', body: 'x' }));
// @types/node's global fetch takes mesh.dispatcher without a cast.
const viaGlobal: Response = await fetch('http://reviews/', { dispatcher: mesh.dispatcher });
// mesh.fetch fits where a library asks for a fetch.
const asFetch: typeof fetch = mesh.fetch;
console.log(viaMesh.status, viaRequest.status, viaGlobal.status, asFetch);
// The mesh is what the server side's building blocks take.
const inboundMesh: InboundMesh = mesh;
const state: LifecycleState = lifecycleOf(inboundMesh).state;
console.log(state);
// What the admin endpoints answer, typed.
const admin = await mesh.admin({ port: 0 });
const clusters = (await (await fetch(`${admin.url}/clusters?format=json`)).json()) as Cluster[];
const dump: ConfigDump | undefined = undefined;
const frame: DashboardFrame | undefined = undefined;
console.log(clusters.length, dump, frame);
await admin.close();
await mesh.close();
