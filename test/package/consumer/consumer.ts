// The public API as an application in TypeScript uses it (ESM). Type-checked, not run.
import { createMesh, destinationRule, isProxylessError, proxylessErrorOf, serviceLayers, staticEndpoints, type DestinationRule, type Mesh } from 'proxyless';
import { etcdDiscovery } from '@proxyless/etcd';
import { roundRobin, type Balancer, type BalancerEndpoint } from 'proxyless/balance';
import { breakerSettings, type BreakerSettings } from 'proxyless/policy';
import { checkConfig, parseMeshYaml, type ConfigCheck } from 'proxyless/config';
import { CatalogSource, endpointKey } from 'proxyless/discovery';

// The subpath entries, typed.
const balancer: Balancer<BalancerEndpoint> = roundRobin();
const breaker: BreakerSettings = breakerSettings({ volumeThreshold: 5 }, 'consumer');
const checked: ConfigCheck = checkConfig(parseMeshYaml('kind: DestinationRule', 'consumer.yaml') as object[]);
const key: string = endpointKey({ address: '10.0.0.1', port: 80 });
console.log(balancer, breaker.volumeThreshold, checked.errors.length, key, typeof CatalogSource);
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
await mesh.close();
