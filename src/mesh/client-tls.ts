/**
 * The client side of mesh security: what each connection to an endpoint of an `http://`
 * service speaks, from the DestinationRule `trafficPolicy.tls` in force (port-level and
 * subset settings merged as Istio merges them) and, without one, Istio's auto mTLS:
 *
 * | DestinationRule tls | endpoint labelled `security.istio.io/tlsMode: istio` | other endpoint |
 * | --- | --- | --- |
 * | none (auto mTLS) | ISTIO_MUTUAL (when the mesh has an identity) | plaintext |
 * | `DISABLE` | plaintext | plaintext |
 * | `SIMPLE` | TLS, server verified against `caCertificates`/`subjectAltNames` | same |
 * | `MUTUAL` | TLS with `clientCertificate`/`privateKey` from files | same |
 * | `ISTIO_MUTUAL` | mTLS with the workload's SVID | same |
 *
 * The server identity ISTIO_MUTUAL requires, narrowest first:
 * 1. the SPIFFE IDs in the rule's `subjectAltNames`;
 * 2. the endpoint's service account, from its discovery label
 *    `proxyless.dev/service-account` (`spiffe://<trust domain>/ns/<service namespace>/sa/<label>`);
 * 3. otherwise any identity of the workload's own trust domain.
 *
 * The mode is decided per connection with the policy in force, so a reload reaches new
 * connections; open ones keep what they negotiated. A rotation of the SVID reaches new
 * connections the same way. `https://` URLs are TLS the application asked for: they keep
 * `endpointPool.tls` and are not changed by these settings.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { checkServerIdentity as nodeCheckServerIdentity, type PeerCertificate } from 'node:tls';
import { buildConnector } from 'undici';
import { ProxylessError } from '../core/errors/index.js';
import type { IdentitySource } from '../tls/identity-source.js';
import { clientTlsOptions } from '../tls/secure-context.js';
import type { X509Svid } from '../tls/svid.js';
import type { IdentityExpectation } from '../tls/verify-svid.js';

/** DestinationRule `ClientTLSSettings` (`trafficPolicy.tls`), validated by the loader. */
export interface ClientTlsSettings {
  /** `DISABLE` (default when `tls` is given), `SIMPLE`, `MUTUAL` or `ISTIO_MUTUAL`. */
  readonly mode?: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL' | undefined;
  /** MUTUAL: the client certificate chain file (PEM). */
  readonly clientCertificate?: string | undefined;
  /** MUTUAL: the client key file (PEM). */
  readonly privateKey?: string | undefined;
  /** SIMPLE/MUTUAL: the CA file the server's certificate must chain to (default: Node's roots). */
  readonly caCertificates?: string | undefined;
  /** A Kubernetes Secret (not supported: warned at load). */
  readonly credentialName?: string | undefined;
  /** Names the server certificate must carry: SPIFFE IDs for ISTIO_MUTUAL, DNS or URI SANs for SIMPLE/MUTUAL. */
  readonly subjectAltNames?: readonly string[] | undefined;
  /** The SNI sent. */
  readonly sni?: string | undefined;
  /** SIMPLE/MUTUAL: do not verify the server certificate. */
  readonly insecureSkipVerify?: boolean | undefined;
  /** A CRL file (not supported: warned at load). */
  readonly caCrl?: string | undefined;
}
/** The label that marks an endpoint as speaking Istio mTLS (auto mTLS). */
export const TLS_MODE_LABEL = 'security.istio.io/tlsMode';
/** The discovery label naming the service account an endpoint runs as (its expected SPIFFE ID). */
export const SERVICE_ACCOUNT_LABEL = 'proxyless.dev/service-account';
/** ALPN offered on mesh mTLS: Istio's in-mesh marker first, then plain HTTP/1.1. */
const MESH_ALPN = ['istio-http/1.1', 'http/1.1'];

/** A connection could not be set up as its DestinationRule asks (a missing identity, unreadable files). */
export class ClientTlsError extends ProxylessError {
  /** @param message what is missing and what to change */
  constructor(message: string, options?: ErrorOptions) {
    super('PROXYLESS_ERR_CLIENT_TLS', message, options);
  }
}

/** The service a connection is for. */
export interface ClientTlsTarget {
  /** Service FQDN. */
  readonly fqdn: string;
  /** Service port. */
  readonly port: number;
  /** DestinationRule subset, if any. */
  readonly subset: string | undefined;
  /** The service's namespace, when known (for the service-account label). */
  readonly namespace: string | undefined;
}

/** The TLS mode of one connection, and why. */
export interface ClientTlsDecision {
  /** `DISABLE` is plaintext. */
  readonly mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  /** `destination-rule` or `auto-mtls`. */
  readonly by: 'destination-rule' | 'auto-mtls';
}

/** The mode a connection to an endpoint with `labels` gets under `tls` (see the module table). */
export function clientTlsMode(tls: ClientTlsSettings | undefined, labels: Readonly<Record<string, string>>, hasIdentity: boolean): ClientTlsDecision {
  if (tls !== undefined) return { mode: tls.mode ?? 'DISABLE', by: 'destination-rule' };
  return { mode: hasIdentity && labels[TLS_MODE_LABEL] === 'istio' ? 'ISTIO_MUTUAL' : 'DISABLE', by: 'auto-mtls' };
}

/** The server identity ISTIO_MUTUAL requires of an endpoint (see the module comment for the rule). */
export function expectedServerIdentity(tls: ClientTlsSettings | undefined, labels: Readonly<Record<string, string>>, target: ClientTlsTarget, trustDomain: string): IdentityExpectation {
  const sans = tls?.subjectAltNames?.filter((s) => s.startsWith('spiffe://'));
  if (sans !== undefined && sans.length > 0) return { ids: sans };
  const account = labels[SERVICE_ACCOUNT_LABEL];
  if (account !== undefined && account !== '' && target.namespace !== undefined) return { ids: [`spiffe://${trustDomain}/ns/${target.namespace}/sa/${account}`] };
  return { trustDomain };
}

type Connector = buildConnector.connector;

/** Connectors for the TLS modes, made once per settings (and per SVID for ISTIO_MUTUAL). */
export class ClientTls {
  readonly #identity: IdentitySource | undefined;
  #svid: X509Svid | undefined;
  readonly #istio = new Map<string, Connector>();
  readonly #files = new WeakMap<ClientTlsSettings, Connector | ClientTlsError>();

  constructor(identity: IdentitySource | undefined) {
    this.#identity = identity;
  }

  /** True when the mesh has an identity source (auto mTLS applies). */
  get hasIdentity(): boolean {
    return this.#identity !== undefined;
  }

  /**
   * The connector of one endpoint: each new connection is made as the policy in force
   * (`tlsOf()`) says for this endpoint's labels; `plain` makes plaintext ones.
   */
  endpointConnector(labelsOf: () => Readonly<Record<string, string>>, target: ClientTlsTarget, tlsOf: () => ClientTlsSettings | undefined, plain: Connector, timeoutMs: number): Connector {
    return (options, callback) => {
      const tls = tlsOf();
      const labels = labelsOf();
      const { mode } = clientTlsMode(tls, labels, this.hasIdentity);
      if (mode === 'DISABLE') return plain(options, callback);
      let connector: Connector;
      try {
        connector = mode === 'ISTIO_MUTUAL' ? this.#istioConnector(tls, labels, target, timeoutMs) : this.#fileConnector(tls!, mode, timeoutMs);
      } catch (error) {
        return callback(error as Error, null);
      }
      const servername = tls?.sni ?? (mode === 'ISTIO_MUTUAL' ? `outbound_.${target.port}_.${target.subset ?? ''}_.${target.fqdn}` : target.fqdn);
      // The pool's origin is http://: TLS is the mesh's, so the connector is told to speak it.
      return connector({ ...options, protocol: 'https:', servername }, callback);
    };
  }

  #istioConnector(tls: ClientTlsSettings | undefined, labels: Readonly<Record<string, string>>, target: ClientTlsTarget, timeoutMs: number): Connector {
    const svid = this.#identity?.current();
    if (svid === undefined) {
      throw new ClientTlsError(
        `${target.fqdn}:${target.port}: ISTIO_MUTUAL needs this workload's identity, and ${this.#identity === undefined ? 'the mesh has none (createMesh({ identity }))' : `identity source ${this.#identity.name} has no SVID yet`}`,
      );
    }
    if (svid !== this.#svid) {
      // A rotation: connections from now on present the new SVID (and resume no old session).
      this.#svid = svid;
      this.#istio.clear();
    }
    const expect = expectedServerIdentity(tls, labels, target, svid.spiffeId.trustDomain);
    const key = `${expect.ids?.join(' ') ?? ''}|${expect.trustDomain ?? ''}|${timeoutMs}`;
    let connector = this.#istio.get(key);
    if (connector === undefined) {
      connector = buildConnector({ ...clientTlsOptions(svid, { expect }), ALPNProtocols: MESH_ALPN, timeout: timeoutMs } as buildConnector.BuildOptions);
      if (this.#istio.size >= 1024) this.#istio.clear(); // bounded: one per expected identity
      this.#istio.set(key, connector);
    }
    return connector;
  }

  #fileConnector(tls: ClientTlsSettings, mode: 'SIMPLE' | 'MUTUAL', timeoutMs: number): Connector {
    const cached = this.#files.get(tls);
    if (cached instanceof ClientTlsError) throw cached;
    if (cached !== undefined) return cached;
    try {
      const read = (field: 'caCertificates' | 'clientCertificate' | 'privateKey'): string | undefined => {
        const path = tls[field];
        if (path === undefined || path === '') return undefined;
        try {
          return readFileSync(path, 'utf8');
        } catch (error) {
          throw new ClientTlsError(`DestinationRule tls.${field}: ${JSON.stringify(path)} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); ${mode} TLS needs it`, { cause: error });
        }
      };
      const ca = read('caCertificates');
      const cert = mode === 'MUTUAL' ? read('clientCertificate') : undefined;
      const key = mode === 'MUTUAL' ? read('privateKey') : undefined;
      const sans = tls.subjectAltNames ?? [];
      const connector = buildConnector({
        ...(ca !== undefined && { ca }),
        ...(cert !== undefined && { cert }),
        ...(key !== undefined && { key }),
        rejectUnauthorized: tls.insecureSkipVerify !== true,
        timeout: timeoutMs,
        ...(sans.length > 0 && { checkServerIdentity: (host: string, peer: PeerCertificate) => checkSubjectAltNames(sans, host, peer) }),
      } as buildConnector.BuildOptions);
      this.#files.set(tls, connector);
      return connector;
    } catch (error) {
      const failure = error instanceof ClientTlsError ? error : new ClientTlsError(`DestinationRule tls (${mode}): ${(error as Error).message}`, { cause: error });
      this.#files.set(tls, failure);
      throw failure;
    }
  }
}

/** SIMPLE/MUTUAL `subjectAltNames`: the server certificate must carry one of them (DNS or URI SAN). */
function checkSubjectAltNames(sans: readonly string[], host: string, peer: PeerCertificate): Error | undefined {
  const presented = (peer.subjectaltname ?? '').split(', ').map((entry) => entry.replace(/^(DNS|URI|IP Address):/, ''));
  for (const san of sans) {
    if (presented.includes(san)) return undefined;
    if (!san.includes('://') && nodeCheckServerIdentity(san, peer) === undefined) return undefined;
  }
  return new ClientTlsError(`server certificate of ${host} presents subject alternative names ${JSON.stringify(presented)} (expected one of: ${JSON.stringify(sans)}, from the DestinationRule's subjectAltNames)`);
}
