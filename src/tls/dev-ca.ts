/**
 * A development CA: a root on disk that issues short-lived SVIDs. For laptops, tests and
 * demos; production identities come from the platform (istio-agent's files, SPIRE).
 *
 * Files, in Istio's plug-in CA layout: `ca-cert.pem` (the CA certificate), `ca-key.pem`
 * (its key, mode 0600), `root-cert.pem` (the root the SVIDs chain to; the same
 * certificate for a self-signed root).
 *
 * @module
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, readFileSync, renameSync, writeSync, closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError, SvidError } from '../core/errors/index.js';
import { parseDuration } from '../core/duration.js';
import { KeyUsageBits, ExtKeyUsageOids, parsePemCertificates, toPem, type CertificateInfo } from './certificate.js';
import { createCertificate, generateKeyPair, type KeyType } from './create-certificate.js';
import { SpiffeId, toSpiffeId, trustDomainProblem } from './spiffe-id.js';
import { keyMismatchProblem, oneLine, signingCertProblem } from './svid-rules.js';

/** Istio's default workload certificate lifetime (istio-agent's SECRET_TTL): 24 h. */
export const DEFAULT_SVID_TTL_MS = 24 * 3600_000;
/** A dev root's default lifetime: 10 years (Istio's self-signed root default). */
export const DEFAULT_CA_TTL_MS = 10 * 365 * 24 * 3600_000;
/** How far back an SVID's notBefore is set, for peers whose clocks lag a little. */
export const NOT_BEFORE_BACKDATE_MS = 60_000;
/** The shortest SVID lifetime accepted (tests rotate every second). */
export const MIN_SVID_TTL_MS = 1000;

/** A CA that can issue: its certificate (and any intermediates above it), key and root. */
export interface DevCa {
  /** The trust domain its root names. */
  readonly trustDomain: string;
  /** The CA certificate, then any intermediates above it (not the root). */
  readonly chain: readonly CertificateInfo[];
  /** The root certificates the SVIDs chain to. */
  readonly roots: readonly CertificateInfo[];
  /** The CA's private key. */
  readonly key: KeyObject;
}

/** A duration as milliseconds from a number (ms) or Go syntax (`24h`, `90m`); throws naming `field`. */
export function durationMs(value: number | string, field: string, where: string): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = Number.isFinite(value) ? value : undefined;
  else if (typeof value === 'string') {
    const parsed = parseDuration(value);
    ms = 'ms' in parsed ? parsed.ms : undefined;
  }
  if (ms === undefined || ms <= 0) {
    throw new InvalidOptionError(where, [`${field}: ${JSON.stringify(value)} (expected: a positive duration, in ms or as "24h", "90m", "1s")`]);
  }
  return ms;
}

/** Options of {@link createDevCa}. */
export interface CreateDevCaOptions {
  /** The trust domain, e.g. `cluster.local`. */
  readonly trustDomain: string;
  /** Lifetime, ms or Go duration; default 10 years. */
  readonly ttl?: number | string;
  /** Key type; default `ec-p256`. */
  readonly keyType?: KeyType;
  /** The time of issue (default now). */
  readonly now?: number;
}

/** Makes a self-signed root for `trustDomain` (URI SAN `spiffe://<trustDomain>`). */
export function createDevCa(options: CreateDevCaOptions): DevCa {
  const problem = trustDomainProblem(options.trustDomain);
  if (problem !== undefined) throw new InvalidOptionError('createDevCa', [`trustDomain: ${JSON.stringify(options.trustDomain)} (expected: a trust domain; it ${problem})`]);
  const ttl = options.ttl === undefined ? DEFAULT_CA_TTL_MS : durationMs(options.ttl, 'ttl', 'createDevCa');
  const now = options.now ?? Date.now();
  const keys = generateKeyPair(options.keyType);
  const der = createCertificate({
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    // A name of its own: a CA made again must not be mistaken for the old one by name.
    subject: { O: options.trustDomain, CN: `proxyless dev root ${randomBytes(4).toString('hex')}` },
    notBefore: new Date(now - NOT_BEFORE_BACKDATE_MS),
    notAfter: new Date(now + ttl),
    basicConstraints: { ca: true },
    keyUsage: { flags: KeyUsageBits.keyCertSign | KeyUsageBits.cRLSign, critical: true },
    uris: [SpiffeId.forTrustDomain(options.trustDomain).uri],
  });
  const cert = parsePemCertificates(toPem(der), 'dev CA')[0]!;
  return { trustDomain: options.trustDomain, chain: [cert], roots: [cert], key: keys.privateKey };
}

/** Options of {@link issueSvid}. */
export interface IssueSvidOptions {
  /** The SPIFFE ID; must belong to the CA's trust domain. */
  readonly spiffeId: string | SpiffeId;
  /** Lifetime from now, ms or Go duration; default 24 h. */
  readonly ttl?: number | string;
  /** Key type; default `ec-p256`. */
  readonly keyType?: KeyType;
  /** DNS SANs to add (SPIFFE allows them beside the URI SAN). */
  readonly dnsNames?: readonly string[];
  /** The time of issue (default now). */
  readonly now?: number;
}

/** An SVID as the three PEM texts of istio-agent's layout. */
export interface IssuedSvid {
  /** `cert-chain.pem`: the leaf, then the CA's chain below the root. */
  readonly certChain: string;
  /** `key.pem`: the leaf's private key (PKCS#8). */
  readonly key: string;
  /** `root-cert.pem`: the roots. */
  readonly roots: string;
  /** The SPIFFE ID. */
  readonly spiffeId: SpiffeId;
  /** When it expires. */
  readonly notAfter: Date;
}

/** Issues an X.509-SVID from `ca`, following every SVID rule. */
export function issueSvid(ca: DevCa, options: IssueSvidOptions): IssuedSvid {
  const id = toSpiffeId(options.spiffeId);
  if (id.path === '') throw new InvalidOptionError('issueSvid', [`spiffeId: "${id.uri}" (expected: a workload ID with a path, e.g. spiffe://${id.trustDomain}/ns/default/sa/app)`]);
  if (id.trustDomain !== ca.trustDomain) {
    throw new InvalidOptionError('issueSvid', [`spiffeId: "${id.uri}" (expected: an ID of the CA's trust domain ${ca.trustDomain})`]);
  }
  const ttl = options.ttl === undefined ? DEFAULT_SVID_TTL_MS : durationMs(options.ttl, 'ttl', 'issueSvid');
  if (ttl < MIN_SVID_TTL_MS) throw new InvalidOptionError('issueSvid', [`ttl: ${ttl} ms (expected: at least ${MIN_SVID_TTL_MS} ms)`]);
  const now = options.now ?? Date.now();
  const caCert = ca.chain[0]!;
  // An SVID must not outlive its CA: a chain that expires in the middle is refused anyway.
  // Certificate times have whole seconds: round up, so the lifetime is never below `ttl`
  // (rounding down could leave a 1 s SVID a few ms to live).
  const notAfter = new Date(Math.min(Math.ceil((now + ttl) / 1000) * 1000, caCert.notAfter.getTime()));
  const keys = generateKeyPair(options.keyType);
  const der = createCertificate({
    publicKey: keys.publicKey,
    signingKey: ca.key,
    issuer: caCert.der,
    subject: { O: ca.trustDomain },
    notBefore: new Date(Math.max(now - NOT_BEFORE_BACKDATE_MS, caCert.notBefore.getTime())),
    notAfter,
    basicConstraints: { ca: false },
    keyUsage: { flags: KeyUsageBits.digitalSignature | KeyUsageBits.keyEncipherment, critical: true },
    extendedKeyUsage: [ExtKeyUsageOids.serverAuth, ExtKeyUsageOids.clientAuth],
    uris: [id.uri],
    ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}),
  });
  const rootKeys = new Set(ca.roots.map((r) => r.fingerprint256));
  const intermediates = ca.chain.filter((c) => !rootKeys.has(c.fingerprint256));
  return {
    certChain: [der, ...intermediates.map((c) => c.der)].map((d) => toPem(d)).join(''),
    key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    roots: ca.roots.map((r) => toPem(r.der)).join(''),
    spiffeId: id,
    notAfter,
  };
}

/** The file names of a dev CA directory. */
export const CA_FILES = { cert: 'ca-cert.pem', key: 'ca-key.pem', root: 'root-cert.pem' } as const;
/** The file names of an SVID directory (istio-agent's layout). */
export const SVID_FILES = { certChain: 'cert-chain.pem', key: 'key.pem', roots: 'root-cert.pem' } as const;

/**
 * Writes `text` to `path` by a temporary file renamed over it (a watcher never sees half
 * of it), with `mode` set before any byte is written (a key is never readable by others,
 * not even for a moment).
 */
export function writeFileAtomic(path: string, text: string, mode: number): void {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temp, 'wx', mode);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(temp, mode); // the umask may have taken bits away; never added any
  renameSync(temp, path);
}

/** Writes a CA to `dir` (created 0700 if missing); refuses to overwrite one unless `force`. */
export function writeDevCa(dir: string, ca: DevCa, options: { readonly force?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!options.force && existsSync(join(dir, CA_FILES.key))) {
    throw new InvalidOptionError('writeDevCa', [`dir: ${JSON.stringify(dir)} already holds ${CA_FILES.key} (expected: an empty directory, or force to replace the CA)`]);
  }
  writeFileAtomic(join(dir, CA_FILES.key), ca.key.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  writeFileAtomic(join(dir, CA_FILES.cert), ca.chain.map((c) => toPem(c.der)).join(''), 0o644);
  writeFileAtomic(join(dir, CA_FILES.root), ca.roots.map((c) => toPem(c.der)).join(''), 0o644);
}

/** Reads a CA written by {@link writeDevCa} (or Istio's plug-in CA files); checks it can issue. */
export function loadDevCa(dir: string): DevCa {
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch (error) {
      throw new InvalidOptionError('loadDevCa', [`caDir: ${JSON.stringify(dir)} has no readable ${name} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; expected: a CA made by \`proxyless certs ca create\`)`]);
    }
  };
  const chain = parsePemCertificates(read(CA_FILES.cert), join(dir, CA_FILES.cert));
  const rootText = existsSync(join(dir, CA_FILES.root)) ? read(CA_FILES.root) : read(CA_FILES.cert);
  const roots = parsePemCertificates(rootText, join(dir, CA_FILES.root));
  let key: KeyObject;
  try {
    key = createPrivateKey(read(CA_FILES.key));
  } catch (error) {
    if (error instanceof InvalidOptionError) throw error;
    throw new SvidError('malformed', join(dir, CA_FILES.key), 'text that is not a PEM private key', 'a PEM private key', 'Check the CA key file.', { cause: error });
  }
  const caCert = chain[0]!;
  const problem = signingCertProblem(caCert, join(dir, CA_FILES.cert)) ?? keyMismatchProblem(caCert, key, `${join(dir, CA_FILES.key)} and ${join(dir, CA_FILES.cert)}`);
  if (problem) throw problem;
  const named = roots.flatMap((r) => r.uris).find((u) => u.startsWith('spiffe://'));
  const trustDomain = named ? SpiffeId.parse(named).trustDomain : undefined;
  if (trustDomain === undefined) {
    throw new SvidError('trust_domain', join(dir, CA_FILES.root), `a root (${oneLine(roots[0]!.subject)}) that names no trust domain`, 'a URI SAN spiffe://<trust-domain>', 'Create the CA with `proxyless certs ca create --trust-domain ...`.');
  }
  return { trustDomain, chain, roots, key };
}
