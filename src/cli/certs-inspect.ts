/**
 * `proxyless certs inspect` and `proxyless certs verify`: what a certificate file holds,
 * and whether it is a valid X.509-SVID, rule by rule.
 *
 * @module
 */
import { createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { SvidError } from '../core/errors/index.js';
import { formatDuration } from '../core/duration.js';
import { ExtKeyUsageOids, parsePemCertificates, type CertificateInfo } from '../tls/certificate.js';
import { LEAF_RULES, keyMismatchProblem, oneLine, signingCertProblem, validityProblem } from '../tls/svid-rules.js';
import { trustBundleFromPem } from '../tls/trust-bundle.js';
import { verifySvid } from '../tls/verify-svid.js';
import { describeFsError, type CliOutput } from './check.js';

/** A command-line usage error: printed with the usage, exit 2. */
export class CliUsageError extends Error {}

type Parse = (args: readonly string[], options: ParseArgsOptionsConfig) => ReturnType<typeof parseArgs>;

/** The largest file read: far above any certificate chain or key. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Reads a PEM file, bounded; throws an SvidError `malformed` naming it. */
function readPem(path: string): string {
  try {
    const size = statSync(path).size;
    if (size > MAX_FILE_BYTES) throw new SvidError('malformed', path, `a file of ${size} bytes`, `at most ${MAX_FILE_BYTES} bytes of PEM`, 'Is it the right file?');
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof SvidError) throw error;
    throw new SvidError('malformed', path, describeFsError(error), 'a readable PEM file', 'Check the path.');
  }
}

const EKU_NAMES: Record<string, string> = { [ExtKeyUsageOids.serverAuth]: 'serverAuth', [ExtKeyUsageOids.clientAuth]: 'clientAuth', [ExtKeyUsageOids.any]: 'any' };

function describe(cert: CertificateInfo, index: number, now: number, io: CliOutput): void {
  const role = index === 0 ? (cert.basicConstraints?.ca ? 'a CA' : 'leaf') : cert.basicConstraints?.ca ? 'issuer' : 'issuer (not a CA)';
  const left = cert.notAfter.getTime() - now;
  io.out(`certificate ${index + 1} (${role}):`);
  io.out(`  subject:          ${oneLine(cert.subject)}`);
  io.out(`  issuer:           ${oneLine(cert.issuer)}`);
  io.out(`  serial:           ${cert.serialNumber}`);
  io.out(`  valid:            ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()} (${left < 0 ? `expired ${formatDuration(Math.round(-left / 1000) * 1000)} ago` : `expires in ${formatDuration(Math.round(left / 1000) * 1000)}`})`);
  const spiffe = cert.uris.filter((u) => u.startsWith('spiffe://'));
  if (spiffe.length > 0) io.out(`  SPIFFE ID:        ${spiffe.join(', ')}`);
  const other = cert.uris.filter((u) => !u.startsWith('spiffe://'));
  if (other.length > 0) io.out(`  other URI SANs:   ${other.join(', ')}`);
  if (cert.dnsNames.length > 0) io.out(`  DNS SANs:         ${cert.dnsNames.join(', ')}`);
  const bc = cert.basicConstraints;
  io.out(`  basicConstraints: ${bc ? `CA:${bc.ca ? 'TRUE' : 'FALSE'}${bc.pathLength === undefined ? '' : `, pathlen:${bc.pathLength}`}${bc.critical ? ' (critical)' : ''}` : '(absent)'}`);
  io.out(`  keyUsage:         ${cert.keyUsage ? `${cert.keyUsage.names.join(', ') || '(none)'}${cert.keyUsage.critical ? ' (critical)' : ''}` : '(absent)'}`);
  if (cert.extendedKeyUsage) io.out(`  extKeyUsage:      ${cert.extendedKeyUsage.map((o) => EKU_NAMES[o] ?? o).join(', ')}`);
  io.out(`  sha256:           ${cert.fingerprint256}`);
}

/** `certs inspect FILE [--bundle FILE] [--key FILE] [--trust-domain TD]`. */
export function inspect(args: readonly string[], io: CliOutput, parse: Parse): number {
  const { values, positionals } = parse(args, { bundle: { type: 'string' }, key: { type: 'string' }, 'trust-domain': { type: 'string' } });
  if (positionals.length !== 1) throw new CliUsageError(`inspect takes one certificate file (got ${positionals.length})`);
  const file = positionals[0]!;
  const chain = parsePemCertificates(readPem(file), file);
  const now = Date.now();
  io.out(`${file}: ${chain.length} certificate${chain.length === 1 ? '' : 's'}`);
  chain.forEach((cert, i) => describe(cert, i, now, io));
  const leaf = chain[0]!;
  const results: Array<{ name: string; error: SvidError | undefined; skipped?: string }> = [];
  const what = `${file}: leaf certificate`;
  for (const rule of LEAF_RULES) results.push({ name: rule.name, error: rule.check(leaf, what) });
  results.push({ name: 'leaf valid now', error: validityProblem(leaf, now, what) });
  chain.slice(1).forEach((cert, i) => {
    results.push({ name: `certificate ${i + 2} is a CA with keyCertSign`, error: signingCertProblem(cert, `${file}: certificate ${i + 2}`) });
    results.push({ name: `certificate ${i + 2} valid now`, error: validityProblem(cert, now, `${file}: certificate ${i + 2}`) });
  });
  if (typeof values.bundle === 'string') {
    let error: SvidError | undefined;
    try {
      const bundle = trustBundleFromPem(readPem(values.bundle), { what: values.bundle, ...(typeof values['trust-domain'] === 'string' ? { trustDomain: values['trust-domain'] } : {}) });
      verifySvid(chain, bundle, { what, now });
    } catch (e) {
      if (!(e instanceof SvidError)) throw e;
      error = e;
    }
    results.push({ name: `chains to a root of ${values.bundle}`, error });
  } else results.push({ name: 'chains to a trust bundle', error: undefined, skipped: 'no --bundle given' });
  if (typeof values.key === 'string') {
    let error: SvidError | undefined;
    try {
      error = keyMismatchProblem(leaf, createPrivateKey(readPem(values.key)), `${values.key} and ${file}`);
    } catch (e) {
      error = e instanceof SvidError ? e : new SvidError('malformed', values.key, 'text that is not a PEM private key', 'a PEM private key', 'Check the key file.');
    }
    results.push({ name: 'private key matches the leaf', error });
  }
  io.out('X.509-SVID rules:');
  for (const result of results) {
    if (result.skipped) io.out(`  skip  ${result.name} (${result.skipped})`);
    else if (result.error) io.out(`  FAIL  ${result.name}: ${result.error.presented} (expected: ${result.error.expected}) [${result.error.code}]`);
    else io.out(`  pass  ${result.name}`);
  }
  const failed = results.filter((r) => r.error).length;
  if (failed === 0) io.out(`${file}: a valid X.509-SVID for ${leaf.uris[0]}`);
  else io.out(`${file}: NOT a valid X.509-SVID (${failed} rule${failed === 1 ? '' : 's'} failed)`);
  return failed === 0 ? 0 : 1;
}

/** `certs verify FILE --bundle FILE [--spiffe-id ID]... [--trust-domain TD]`. */
export function verify(args: readonly string[], io: CliOutput, parse: Parse): number {
  const { values, positionals } = parse(args, { bundle: { type: 'string' }, 'spiffe-id': { type: 'string', multiple: true }, 'trust-domain': { type: 'string' } });
  if (positionals.length !== 1) throw new CliUsageError(`verify takes one certificate file (got ${positionals.length})`);
  if (typeof values.bundle !== 'string') throw new CliUsageError('--bundle is required');
  const file = positionals[0]!;
  const trustDomain = typeof values['trust-domain'] === 'string' ? values['trust-domain'] : undefined;
  const chain = parsePemCertificates(readPem(file), file);
  const bundle = trustBundleFromPem(readPem(values.bundle), { what: values.bundle, ...(trustDomain ? { trustDomain } : {}) });
  const ids = values['spiffe-id'] as string[] | undefined;
  const verified = verifySvid(chain, bundle, { what: file, ...(ids || trustDomain ? { expect: { ...(ids ? { ids } : {}), ...(trustDomain ? { trustDomain } : {}) } } : {}) });
  io.out(`${file}: OK ${verified.spiffeId.uri} (chain of ${verified.path.length} to ${oneLine(verified.path.at(-1)!.subject)}; expires ${verified.path[0]!.notAfter.toISOString()})`);
  return 0;
}
