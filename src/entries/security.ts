/**
 * `proxyless/security`: Istio's security resources as a library, for tools and tests:
 * `compileSecurity` and the compilers, matchers and explainers of PeerAuthentication,
 * AuthorizationPolicy and RequestAuthentication, the JWT key sources, and the resources'
 * types. A mesh compiles and applies these itself from its config; an application gives
 * it only `createMesh({ authorization: { providers } })`, typed from the root entry. See
 * docs/security.md and docs/api.md.
 *
 * @module proxyless/security
 */
export * from '../security/index.js';
