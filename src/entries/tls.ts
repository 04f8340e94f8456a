/**
 * `proxyless/tls`: workload identity's building blocks: SPIFFE IDs, X.509-SVID loading
 * and verification, certificates and trust bundles, a development CA, `BaseIdentitySource`
 * for writing an identity source, Node TLS options and an undici connector for mutual TLS
 * without a mesh, and how the mesh picks a client TLS mode. An application passes an
 * identity source (`identityFromFiles`, `devIdentity`, from the root entry) to
 * `createMesh`. See docs/identity.md and docs/api.md.
 *
 * @module proxyless/tls
 */
export * from '../tls/index.js';
export { TLS_MODE_LABEL, SERVICE_ACCOUNT_LABEL, clientTlsMode, expectedServerIdentity } from '../mesh/client-tls.js';
export type { ClientTlsSettings, ClientTlsTarget, ClientTlsDecision } from '../mesh/client-tls.js';
