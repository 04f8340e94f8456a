/**
 * `proxyless/discovery`: what a discovery source is built from: the `CatalogSource`
 * base class and endpoint parsing. The sources themselves (`staticEndpoints`, `file`,
 * `dns`), `holdSource` and the `DiscoverySource` interface are in the root entry. See docs/api.md.
 *
 * @module proxyless/discovery
 */
export { CatalogSource } from '../discovery/catalog-source.js';
export { parseEndpoint, endpointKey } from '../discovery/parse-endpoint.js';
