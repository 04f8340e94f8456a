/**
 * Workload identity's building blocks, published as `proxyless/tls`
 * (src/entries/tls.ts): SPIFFE IDs, X.509-SVIDs and their verification, certificates and
 * trust bundles, a development CA, the base class of identity sources, and Node TLS
 * options for mutual TLS. The identity sources an application passes to `createMesh`
 * (`identityFromFiles`, `devIdentity`), their types and `InvalidSpiffeIdError` are in
 * the root entry, src/index.ts. See docs/identity.md.
 */
export { SpiffeId } from './spiffe-id.js';
export { parsePemCertificates, KeyUsageBits, ExtKeyUsageOids } from './certificate.js';
export type { CertificateInfo, KeyUsageInfo, BasicConstraintsInfo } from './certificate.js';
export { trustBundleFromPem } from './trust-bundle.js';
export type { TrustBundle, TrustBundles } from './trust-bundle.js';
export { verifySvid } from './verify-svid.js';
export type { VerifySvidOptions, VerifiedSvid, IdentityExpectation } from './verify-svid.js';
export { X509Svid, loadSvid } from './svid.js';
export type { SvidPem, SvidSummary } from './svid.js';
export type { KeyType } from './create-certificate.js';
export { createDevCa, issueSvid, writeDevCa, loadDevCa } from './dev-ca.js';
export type { DevCa, CreateDevCaOptions, IssueSvidOptions, IssuedSvid } from './dev-ca.js';
export { BaseIdentitySource } from './identity-source.js';
export { clientTlsOptions, serverTlsOptions, serveWithIdentity, verifyClient, meshAlpnCallback, MESH_SESSION_ID_CONTEXT } from './secure-context.js';
export type { ClientConnectionOptions, MeshServerOptions, ClientTlsOptions, ServerTlsOptions, ServeWithIdentityOptions, ServerExpectation, TlsServerLike } from './secure-context.js';
export { mtlsConnector } from './mtls-connector.js';
export type { MtlsConnectorOptions, Connector, MtlsConnector } from './mtls-connector.js';
