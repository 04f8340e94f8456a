/**
 * TLS to the endpoints of `https://` services: the `endpointPool.tls` option (undici's
 * `connect` TLS options: trust, client certificate, SNI override, verification), checked
 * once when the mesh is created, and the connector that the endpoints' pools and the
 * active health checks share, so both speak the same TLS.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { buildConnector } from 'undici';

/** PEM text (one or several blocks), its bytes, or a list of them (Node's `tls` option shape). */
export type PemInput = string | Uint8Array | readonly (string | Uint8Array)[];

/**
 * TLS settings for the connections to the endpoints of services called with an
 * `https://` URL (`createMesh({ endpointPool: { tls } })`). They are undici's `connect`
 * options (Node's `tls.connect`), used by the traffic and by the active health checks
 * alike. Pass-through hosts (no source knows them) do not get them.
 */
export interface EndpointTlsOptions {
  /**
   * CA certificates (PEM) that endpoint certificates must chain to. As in Node's
   * `tls.connect`, this *replaces* Node's built-in roots (`NODE_EXTRA_CA_CERTS` still
   * adds to them when `ca` is not set); to trust a private CA as well as the public
   * ones, pass `[...tls.rootCertificates, privateCa]`.
   */
  ca?: PemInput;
  /** Client certificate chain (PEM), presented to endpoints that ask for one (mutual TLS). Needs `key`. */
  cert?: PemInput;
  /** The client certificate's private key (PEM). Needs `cert`. Never shown in error messages. */
  key?: PemInput;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /**
   * The server name sent as SNI and verified in the endpoint's certificate, for every
   * `https://` service. Default: the host of the URL (the logical service name), as any
   * HTTPS client does. Use it when the endpoints' certificates name another host.
   */
  servername?: string;
  /**
   * `false` turns certificate verification off: anyone on the network path can then
   * impersonate the endpoints. The mesh prints a warning (`PROXYLESS_W_TLS_UNVERIFIED`)
   * when it is created with it. Default `true`. Prefer `ca` for a private CA.
   */
  rejectUnauthorized?: boolean;
}

/** The TLS settings of every https:// service of a mesh, checked. */
export interface EndpointTls {
  /** Options for `tls.connect` (without `servername`). */
  readonly options: Readonly<SecureContextOptions & { rejectUnauthorized?: boolean }>;
  /** The SNI and verified name for every service, when overridden. */
  readonly servername: string | undefined;
}

const FIELDS = ['ca', 'cert', 'key', 'passphrase', 'servername', 'rejectUnauthorized'] as const;
/** A DNS name as SNI carries it (RFC 6066: no IP addresses, no trailing dot). */
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*$/;
/** Bounds what a misconfigured option can make the process parse (a CA bundle is ~200 KB). */
const MAX_PEM_BYTES = 4 * 1024 * 1024;

function isPemPart(value: unknown): value is string | Uint8Array {
  return (typeof value === 'string' && value.length > 0) || (value instanceof Uint8Array && value.byteLength > 0);
}

function pemSize(value: PemInput): number {
  const parts = Array.isArray(value) ? value : [value];
  let size = 0;
  for (const part of parts as (string | Uint8Array)[]) size += typeof part === 'string' ? part.length : part.byteLength;
  return size;
}

/** How a PEM field's value is shown in a problem line: never the key itself. */
function describePem(value: unknown, secret: boolean): string {
  if (secret) return typeof value === 'string' ? `(a string of ${value.length} characters)` : `(${typeof value})`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (value instanceof Uint8Array) return `(${value.byteLength} bytes)`;
  if (Array.isArray(value)) return `(a list of ${value.length})`;
  return value === null ? 'null' : `(${typeof value})`;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Why PEM text holds no usable certificate, or undefined when every certificate block
 * in it parses (OpenSSL silently skips a `ca` that is not PEM, such as a file name).
 */
function certificateProblem(value: PemInput): string | undefined {
  const parts = (Array.isArray(value) ? value : [value]) as (string | Uint8Array)[];
  for (const [index, part] of parts.entries()) {
    const text = typeof part === 'string' ? part : Buffer.from(part.buffer, part.byteOffset, part.byteLength).toString('latin1');
    const where = parts.length > 1 ? `item ${index}: ` : '';
    const blocks = text.match(PEM_CERTIFICATE);
    if (blocks === null) return `${where}no "-----BEGIN CERTIFICATE-----" block (a file name? pass the file's contents)`;
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (error) {
        return `${where}a certificate block does not parse: ${reason(error)}`;
      }
    }
  }
  return undefined;
}

/** OpenSSL's reason, without its numeric prefix: `error:0480006C:PEM routines::no start line` → `PEM routines: no start line`. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/^error:[0-9A-F]+:/, '').replace('::', ': ');
}

/**
 * Checks `endpointPool.tls` and returns the settings, or the problems found, one line
 * each (`endpointPool.tls.ca: ... (expected: ...)`). PEM fields are parsed the way the
 * connections will parse them, so a certificate that is not PEM, or a key that does not
 * match its certificate, fails here rather than on every request. Key material never
 * appears in a problem line.
 */
export function checkEndpointTls(value: unknown, field = 'endpointPool.tls'): { tls: EndpointTls | undefined; problems: string[] } {
  const problems: string[] = [];
  if (value === undefined) return { tls: undefined, problems };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { tls: undefined, problems: [`${field}: ${describePem(value, false)} (expected: an object such as { ca: fs.readFileSync("ca.pem") })`] };
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!(FIELDS as readonly string[]).includes(key)) problems.push(`${field}.${key}: unknown field (expected one of: ${FIELDS.join(', ')})`);
  }
  const pem = (name: 'ca' | 'cert' | 'key'): PemInput | undefined => {
    const v = input[name];
    if (v === undefined) return undefined;
    const ok = isPemPart(v) || (Array.isArray(v) && v.length > 0 && v.every(isPemPart));
    if (!ok) {
      problems.push(`${field}.${name}: ${describePem(v, name === 'key')} (expected: PEM text or bytes, or a non-empty list of them)`);
      return undefined;
    }
    if (pemSize(v as PemInput) > MAX_PEM_BYTES) {
      problems.push(`${field}.${name}: ${describePem(v, true)} (expected: at most ${MAX_PEM_BYTES} bytes of PEM)`);
      return undefined;
    }
    return v as PemInput;
  };
  const ca = pem('ca');
  const cert = pem('cert');
  const key = pem('key');
  const { passphrase, servername, rejectUnauthorized } = input;
  if (passphrase !== undefined && typeof passphrase !== 'string') problems.push(`${field}.passphrase: (${typeof passphrase}) (expected: a string)`);
  if (servername !== undefined && (typeof servername !== 'string' || !HOSTNAME.test(servername) || isIP(servername) !== 0)) {
    problems.push(`${field}.servername: ${describePem(servername, false)} (expected: a DNS name such as "reviews.default.svc.cluster.local"; SNI carries no IP address)`);
  }
  if (rejectUnauthorized !== undefined && typeof rejectUnauthorized !== 'boolean') {
    problems.push(`${field}.rejectUnauthorized: ${describePem(rejectUnauthorized, false)} (expected: true or false)`);
  }
  if ((cert === undefined) !== (key === undefined) && !problems.some((p) => p.startsWith(`${field}.cert`) || p.startsWith(`${field}.key`))) {
    problems.push(cert === undefined ? `${field}.cert: undefined (expected: the client certificate that goes with key)` : `${field}.key: undefined (expected: the private key of cert)`);
  }
  if (problems.length > 0) return { tls: undefined, problems };

  // Parse as the connections will: a bad PEM or a key that does not match fails now.
  const caProblem = ca === undefined ? undefined : certificateProblem(ca);
  if (caProblem !== undefined) problems.push(`${field}.ca: ${describePem(ca, false)} (expected: PEM CA certificates; ${caProblem})`);
  if (cert !== undefined && key !== undefined) {
    const certProblem = certificateProblem(cert);
    if (certProblem !== undefined) problems.push(`${field}.cert: ${describePem(cert, false)} (expected: a PEM certificate chain; ${certProblem})`);
    if (problems.length === 0) {
      try {
        createSecureContext({ cert: cert as SecureContextOptions['cert'], key: key as SecureContextOptions['key'], ...(passphrase !== undefined ? { passphrase: passphrase as string } : {}) });
      } catch (error) {
        problems.push(`${field}.key: ${describePem(key, true)} (expected: the PEM private key of cert${passphrase === undefined ? ', with passphrase if it is encrypted' : ''}; OpenSSL says ${reason(error)})`);
      }
    }
  }
  if (problems.length > 0) return { tls: undefined, problems };
  const options: SecureContextOptions & { rejectUnauthorized?: boolean } = {};
  if (ca !== undefined) options.ca = ca as SecureContextOptions['ca'];
  if (cert !== undefined) options.cert = cert as SecureContextOptions['cert'];
  if (key !== undefined) options.key = key as SecureContextOptions['key'];
  if (passphrase !== undefined) options.passphrase = passphrase as string;
  if (rejectUnauthorized !== undefined) options.rejectUnauthorized = rejectUnauthorized as boolean;
  return { tls: { options: Object.freeze(options), servername: servername as string | undefined }, problems };
}

/** The warning a mesh prints when it is created with `rejectUnauthorized: false`. */
export function unverifiedTlsWarning(field = 'endpointPool.tls'): string {
  return (
    `${field}.rejectUnauthorized is false: the certificates of https:// services are NOT verified, so anyone on the ` +
    `network path can impersonate them and read the traffic. Trust a private CA with ${field}.ca instead.`
  );
}

/**
 * The connector for the endpoints of one https:// service: TLS with the mesh's
 * settings, SNI and verification against `tls.servername` when set, else against the
 * request's host (the logical service name; `fallbackName` when that host is an IP
 * address, and nothing when `fallbackName` is one too), connecting within `timeoutMs`.
 * The service's pools and its health checks use the same one.
 */
export function endpointConnector(tls: EndpointTls | undefined, fallbackName: string, timeoutMs: number): buildConnector.connector {
  const forced = tls?.servername;
  const fallback = forced ?? (isIP(fallbackName) === 0 ? fallbackName : undefined);
  const connector = buildConnector({ ...tls?.options, ...(fallback !== undefined ? { servername: fallback } : {}), timeout: timeoutMs });
  if (forced === undefined) return connector;
  // undici prefers the name it derives from the request's Host header; an override must win.
  return (options, callback) => connector({ ...options, servername: forced }, callback);
}
