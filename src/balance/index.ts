export { EndpointLoad, FAILURE_PENALTY_MS } from './endpoint-load.js';
export { murmurHash3 } from './hash.js';
export { RoundRobinBalancer, roundRobin } from './round-robin.js';
export { RandomBalancer, random } from './random.js';
export { LeastRequestBalancer, leastRequest } from './least-request.js';
export { P2cPeakEwmaBalancer, p2cPeakEwma } from './p2c-peak-ewma.js';
export { RingHashBalancer, ringHash } from './ring-hash.js';
export { balancerFromSettings } from './from-load-balancer-settings.js';
export { ServiceLatency } from './service-latency.js';
export { warmupFactor } from './warmup.js';
export type { WarmupSettings } from './warmup.js';
export type {
  Balancer,
  BalancerEndpoint,
  BalancerRuntime,
  ConsistentHashKey,
  EndpointLoadOptions,
  HttpCookie,
  LeastRequestOptions,
  WarmupOptions,
  LoadBalancerSettings,
  PickRequest,
  RingHashOptions,
} from './types.js';
