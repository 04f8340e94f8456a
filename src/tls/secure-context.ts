/**
 * Node TLS options for mutual TLS with SVIDs, client and server, rebuilt on rotation.
 *
 * Node checks the chain (OpenSSL, against `ca`), but not the identity: its
 * `checkServerIdentity` ignores URI SANs (CVE-2021-44531) and a server has no hook at all.
 * So both sides run our {@link verifySvid} on the peer's chain: the client in
 * `checkServerIdentity` (a failure aborts the handshake with our error), the server on
 * `secureConnection` (a failure destroys the socket before a byte of the request is read).
 *
 * @module
 */
import { createSecureContext, type ConnectionOptions, type PeerCertificate, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { SvidError } from '../core/errors/index.js';
import { parseCertificate, type CertificateInfo } from './certificate.js';
import type { IdentitySource } from './identity-source.js';
import type { X509Svid } from './svid.js';
import type { TrustBundle } from './trust-bundle.js';
import { verifySvid, type IdentityExpectation, type VerifiedSvid } from './verify-svid.js';

/** Peer certificates parsed recently, by DER: a peer's chain changes only when it rotates. */
const PARSED = new Map<string, CertificateInfo>();
/** Bound on {@link PARSED}; past it the oldest entry goes. */
const MAX_PARSED = 512;

/** Parses a peer's certificate, from the cache when it was seen recently. */
function parsePeer(der: Buffer): CertificateInfo {
  const key = der.toString('base64');
  const hit = PARSED.get(key);
  if (hit) return hit;
  const info = parseCertificate(der, 'peer certificate');
  if (PARSED.size >= MAX_PARSED) PARSED.delete(PARSED.keys().next().value!);
  PARSED.set(key, info);
  return info;
}

/**
 * The chain a peer presented, as Node gives it (`getPeerCertificate(true)`: the leaf, then
 * each issuer; Node may complete it from the trusted store, ending in a self-issued root).
 */
export function peerChain(cert: PeerCertificate | undefined | null): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  let current = cert as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined | null;
  while (current && current.raw && out.length < 16) {
    out.push(parsePeer(current.raw));
    const next = current.issuerCertificate;
    if (!next || next === current || next.raw?.equals(current.raw)) break;
    current = next;
  }
  return out;
}

/** What the server's identity must be, per connection: fixed, or by server name. */
export type ServerExpectation = IdentityExpectation | ((servername: string) => IdentityExpectation);

/** The secure context of an SVID, for a client or a server. */
export function svidSecureContextOptions(svid: X509Svid, bundles: readonly TrustBundle[] = []): SecureContextOptions {
  return {
    cert: svid.certChainPem(),
    key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }),
    ca: [svid.rootsPem(), ...bundles.flatMap((b) => b.roots.map((r) => r.x509.toString()))],
    minVersion: 'TLSv1.2',
  };
}

/** What {@link clientTlsOptions} returns: `tls.connect` options with a ready secure context. */
export type ClientConnectionOptions = ConnectionOptions & {
  /** The SVID's certificate, key and roots, made once for every connection. */
  secureContext: SecureContext;
};

/** What {@link serverTlsOptions} returns: `tls.createServer` / `https.createServer` options. */
export interface MeshServerOptions extends SecureContextOptions {
  /** Always true: the client must present its SVID. */
  requestCert: true;
  /** True: Node refuses chains OpenSSL cannot verify ({@link serveWithIdentity} takes this over). */
  rejectUnauthorized: true;
  /** {@link meshAlpnCallback}. */
  ALPNCallback: typeof meshAlpnCallback;
  /** {@link MESH_SESSION_ID_CONTEXT}: resumed sessions with client certificates need one. */
  sessionIdContext: string;
}

/** Options of {@link clientTlsOptions}. */
export interface ClientTlsOptions {
  /** The server identity required; default any ID of the client's own trust domain. */
  readonly expect?: ServerExpectation;
  /** Extra trust bundles (federation) besides the client's own. */
  readonly bundles?: readonly TrustBundle[];
  /** Called with each verified server identity (e.g. to record it). */
  readonly onVerified?: (verified: VerifiedSvid, servername: string) => void;
}

/**
 * `tls.connect` options for a mesh client presenting `svid`: its certificate and key in a
 * secure context made once (not once per connection), the roots, and our SPIFFE check of
 * the server. A server presenting another identity fails the handshake with an
 * {@link SvidError} that says which identity was expected and which was presented.
 */
export function clientTlsOptions(svid: X509Svid, options: ClientTlsOptions = {}): ClientConnectionOptions {
  const bundles = [svid.bundle, ...(options.bundles ?? [])];
  const secureContext = createSecureContext(svidSecureContextOptions(svid, options.bundles));
  return {
    secureContext,
    rejectUnauthorized: true,
    checkServerIdentity(servername, cert) {
      try {
        const expect = typeof options.expect === 'function' ? options.expect(servername) : (options.expect ?? { trustDomain: svid.spiffeId.trustDomain });
        const verified = verifySvid(peerChain(cert), bundles, { expect, what: `server certificate of ${servername || 'the server'}` });
        options.onVerified?.(verified, servername);
        return undefined;
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    },
  };
}

/**
 * ALPN for a server of HTTP/1.1 behind mesh mTLS: clients offering Istio's values
 * (`istio-http/1.1`, `istio-http/1.0`, `istio`) alone are accepted, since Node (unlike
 * Envoy) ends a handshake whose ALPN has no match. A client offering only other
 * protocols (`h2` alone) gets no_application_protocol: this server cannot speak them.
 */
export function meshAlpnCallback({ protocols }: { servername: string; protocols: string[] }): string | undefined {
  for (const wanted of ['http/1.1', 'istio-http/1.1', 'istio-http/1.0', 'istio']) {
    if (protocols.includes(wanted)) return wanted;
  }
  return undefined;
}

/** Session id context of mesh servers: a client certificate is required, so resumed sessions need one. */
export const MESH_SESSION_ID_CONTEXT = 'proxyless-mtls';

/** Options of {@link serverTlsOptions}. */
export interface ServerTlsOptions {
  /** Extra trust bundles (federation) besides the server's own. */
  readonly bundles?: readonly TrustBundle[];
}

/**
 * `tls.createServer` / `https.createServer` options for a mesh server presenting `svid`:
 * a client certificate is required and its chain checked against the roots (by Node,
 * silently; {@link serveWithIdentity} takes that over and adds the SPIFFE rules), a session
 * id context (resumption with client certificates fails without it), and the ALPN rule of
 * {@link meshAlpnCallback}.
 */
export function serverTlsOptions(svid: X509Svid, options: ServerTlsOptions = {}): MeshServerOptions {
  return {
    ...svidSecureContextOptions(svid, options.bundles),
    requestCert: true,
    rejectUnauthorized: true,
    sessionIdContext: MESH_SESSION_ID_CONTEXT,
    ALPNCallback: meshAlpnCallback,
  };
}

/** Verifies a server socket's client by the SPIFFE rules; throws {@link SvidError}. */
export function verifyClient(socket: TLSSocket, bundles: readonly TrustBundle[], expect?: IdentityExpectation): VerifiedSvid {
  const chain = peerChain(socket.getPeerCertificate(true));
  if (chain.length === 0) {
    throw new SvidError('malformed', `client ${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, 'no client certificate', 'an X.509-SVID', 'mTLS is required: the client must present its SVID.');
  }
  return verifySvid(chain, bundles, { what: `client certificate from ${socket.remoteAddress}:${socket.remotePort}`, ...(expect ? { expect } : {}) });
}

/** A TLS server (node:tls or node:https) as {@link serveWithIdentity} drives it. */
export interface TlsServerLike {
  /** Set by `serverTlsOptions` (must be true). */
  requestCert?: boolean;
  /** Turned off by {@link serveWithIdentity}, which verifies every client itself. */
  rejectUnauthorized?: boolean;
  /** Replaces the secure context for new connections. */
  setSecureContext(options: SecureContextOptions): void;
  /** Adds a listener before the others (the check runs before the HTTP parser's). */
  prependListener(event: 'secureConnection', listener: (socket: TLSSocket) => void): this;
  /** Removes a listener. */
  removeListener(event: 'secureConnection', listener: (socket: TLSSocket) => void): this;
  /** Reports a refused client. */
  emit(event: 'tlsClientError', error: Error, socket: TLSSocket): boolean;
}

/** Options of {@link serveWithIdentity}. */
export interface ServeWithIdentityOptions extends ServerTlsOptions {
  /** Client identities accepted; default any ID of a trust domain with a bundle. */
  readonly expect?: IdentityExpectation;
  /** Each verified client, with its socket (e.g. to attach the peer to requests). */
  readonly onPeer?: (verified: VerifiedSvid, socket: TLSSocket) => void;
  /**
   * How a refused client's connection ends. Default: destroyed. A mesh server answers a
   * short HTTP error naming the rule first, so that a TLS 1.3 client (which learns of the
   * refusal only at its first read) still sees why. It must end or destroy the socket.
   */
  readonly refuse?: (socket: TLSSocket, error: Error) => void;
}

/**
 * Keeps a TLS server on the current SVID of `source` and checks every client by the SPIFFE
 * rules. The server must have been created with {@link serverTlsOptions} of the current
 * SVID. On `rotated`, `setSecureContext` gives new connections the new certificate while
 * open ones finish on the old. Every client is verified by {@link verifyClient} (chain to
 * the bundle of its trust domain, SVID rules, `expect`); one that fails, or sends no
 * certificate, is refused: its socket is destroyed before a byte of its request is read,
 * and the {@link SvidError} goes to the server's `tlsClientError` event. Returns a function
 * that stops following the source.
 */
export function serveWithIdentity(server: TlsServerLike, source: IdentitySource, options: ServeWithIdentityOptions = {}): () => void {
  const svid = source.current();
  if (!svid) throw new SvidError('malformed', source.name, 'no SVID yet', 'a source that is ready', 'Await source.ready() before serving.');
  if (server.requestCert !== true) throw new TypeError('serveWithIdentity: the server does not request client certificates; create it with serverTlsOptions(svid)');
  // Node refuses a client whose chain OpenSSL did not verify by destroying its socket
  // without a word on the server side. We verify every client ourselves (chain, rules,
  // identity), so each refusal says why, on the server's `tlsClientError`.
  server.rejectUnauthorized = false;
  let bundles = [svid.bundle, ...(options.bundles ?? [])];
  const onRotated = (next: X509Svid): void => {
    bundles = [next.bundle, ...(options.bundles ?? [])];
    server.setSecureContext(serverTlsOptions(next, options));
  };
  const onSecure = (socket: TLSSocket): void => {
    try {
      const verified = verifyClient(socket, bundles, options.expect);
      // Defence in depth: OpenSSL's own verdict on the chain (critical extensions we do
      // not read, weak signature algorithms, name constraints) must agree with ours.
      if (!socket.authorized) {
        throw new SvidError(
          'untrusted',
          `client certificate from ${socket.remoteAddress}:${socket.remotePort}`,
          `a chain OpenSSL refused (${String(socket.authorizationError)})`,
          'a chain OpenSSL verifies against the trust bundle',
          'The certificate passes the SPIFFE rules but not X.509 path validation; check how it was issued.',
        );
      }
      options.onPeer?.(verified, socket);
    } catch (error) {
      if (options.refuse !== undefined) options.refuse(socket, error as Error);
      else socket.destroy();
      server.emit('tlsClientError', error as Error, socket);
    }
  };
  source.on('rotated', onRotated);
  server.prependListener('secureConnection', onSecure);
  return () => {
    source.off('rotated', onRotated);
    server.removeListener('secureConnection', onSecure);
    server.rejectUnauthorized = true;
  };
}
