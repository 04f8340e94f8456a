/**
 * `proxyless/balance`: the load balancers and what they are made of, for a custom
 * balancer or a layer that picks endpoints itself. An application that only sets
 * `trafficPolicy.loadBalancer` in a DestinationRule needs none of this. See docs/api.md.
 *
 * @module proxyless/balance
 */
export * from '../balance/index.js';
export { LatencyHistogram } from '../balance/latency-histogram.js';
