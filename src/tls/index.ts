/**
 * Workload identity: SPIFFE IDs, X.509-SVIDs and their verification, identity sources
 * with rotation, and Node TLS options for mutual TLS. See docs/identity.md.
 *
 * @module
 */
export { SpiffeId, InvalidSpiffeIdError, spiffeIdProblem, trustDomainProblem, toSpiffeId, MAX_SPIFFE_ID_LENGTH, MAX_TRUST_DOMAIN_LENGTH } from './spiffe-id.js';
export { parseCertificate, parsePemCertificates, pemCertificates, toPem, KeyUsageBits, ExtKeyUsageOids, MAX_CHAIN_CERTIFICATES, MAX_CERTIFICATE_BYTES } from './certificate.js';
export type { CertificateInfo, KeyUsageInfo, BasicConstraintsInfo } from './certificate.js';
export { trustBundleFromPem, bundleFor } from './trust-bundle.js';
export type { TrustBundle, TrustBundles } from './trust-bundle.js';
export { verifySvid, checkLeaf, checkExpectedIdentity, MAX_PATH_CERTIFICATES } from './verify-svid.js';
export type { VerifySvidOptions, VerifiedSvid, IdentityExpectation } from './verify-svid.js';
export { LEAF_RULES, validityProblem, signingCertProblem, keyMismatchProblem } from './svid-rules.js';
export type { LeafRule } from './svid-rules.js';
export { X509Svid, loadSvid } from './svid.js';
export type { SvidPem, SvidSummary } from './svid.js';
export { createCertificate, generateKeyPair } from './create-certificate.js';
export type { CertificateSpec, KeyType } from './create-certificate.js';
export { createDevCa, issueSvid, writeDevCa, loadDevCa, CA_FILES, SVID_FILES, DEFAULT_SVID_TTL_MS, DEFAULT_CA_TTL_MS } from './dev-ca.js';
export type { DevCa, CreateDevCaOptions, IssueSvidOptions, IssuedSvid } from './dev-ca.js';
export { BaseIdentitySource } from './identity-source.js';
export type { IdentitySource, IdentitySourceEvents } from './identity-source.js';
export { identityFromFiles, FileIdentitySource } from './file-identity.js';
export type { FileIdentityOptions } from './file-identity.js';
export { devIdentity, DevIdentitySource } from './dev-identity.js';
export type { DevIdentityOptions } from './dev-identity.js';
export { clientTlsOptions, serverTlsOptions, serveWithIdentity, verifyClient, meshAlpnCallback, peerChain, svidSecureContextOptions, MESH_SESSION_ID_CONTEXT } from './secure-context.js';
export type { ClientConnectionOptions, MeshServerOptions, ClientTlsOptions, ServerTlsOptions, ServeWithIdentityOptions, ServerExpectation, TlsServerLike } from './secure-context.js';
export { mtlsConnector } from './mtls-connector.js';
export type { MtlsConnectorOptions, Connector, MtlsConnector } from './mtls-connector.js';
