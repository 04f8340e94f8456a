/**
 * `@proxyless/etcd`: etcd as a service registry and config store for proxyless.
 * {@link etcdDiscovery} finds service instances under a key prefix and follows them;
 * {@link register} puts this instance there under a lease; {@link etcdConfig} reads mesh
 * config (Istio YAML) from a key.
 *
 * @packageDocumentation
 */
export { etcdDiscovery, EtcdDiscoverySource } from './etcd-discovery.js';
export type { EtcdDiscoveryOptions } from './etcd-discovery.js';
export { register, Registration } from './register.js';
export type { RegisterOptions, ClosableServer } from './register.js';
export { etcdConfig, EtcdConfigSource } from './etcd-config.js';
export type { EtcdConfigOptions } from './etcd-config.js';
export type { EtcdConnectionOptions } from './internal-options.js';
export { EtcdUnavailableError, EtcdValueError, EtcdLeaseLostError } from './errors.js';
