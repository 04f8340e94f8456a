/**
 * `proxyless certs`: a development CA and SVIDs on disk, and checks of any certificate.
 *
 *   proxyless certs ca create --trust-domain TD --dir DIR [--ttl 87600h] [--key-type ec-p256|rsa-2048] [--force]
 *   proxyless certs issue --ca-dir DIR (--spiffe-id ID | --namespace NS --service-account SA [--trust-domain TD])
 *                         --out-dir DIR [--ttl 24h] [--dns NAME]... [--key-type ...]
 *   proxyless certs inspect FILE [--bundle FILE] [--key FILE] [--trust-domain TD]
 *   proxyless certs verify FILE --bundle FILE [--spiffe-id ID]... [--trust-domain TD]
 *
 * Keys are written with mode 0600 (set before a byte is written) and never printed.
 *
 * @module
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { ProxylessError } from '../core/errors/index.js';
import { CA_FILES, SVID_FILES, createDevCa, issueSvid, loadDevCa, writeDevCa, writeFileAtomic } from '../tls/dev-ca.js';
import { SpiffeId } from '../tls/spiffe-id.js';
import type { CliOutput } from './check.js';
import { CliUsageError as UsageError, inspect, verify } from './certs-inspect.js';

/** The usage text of `proxyless certs`. */
export const CERTS_USAGE = `usage:
  proxyless certs ca create --trust-domain TD --dir DIR [--ttl 87600h] [--key-type ec-p256|rsa-2048] [--force]
      Creates a development root CA for trust domain TD in DIR: ca-cert.pem, root-cert.pem
      and ca-key.pem (mode 0600). Refuses to replace an existing CA without --force.
  proxyless certs issue --ca-dir DIR (--spiffe-id ID | --namespace NS --service-account SA [--trust-domain TD])
                        --out-dir DIR [--ttl 24h] [--dns NAME]... [--key-type ec-p256|rsa-2048]
      Issues an X.509-SVID from the CA in istio-agent's layout: cert-chain.pem, key.pem
      (mode 0600), root-cert.pem. --ttl takes Go durations (24h, 90m, 30s).
  proxyless certs inspect FILE [--bundle FILE] [--key FILE] [--trust-domain TD]
      Prints each certificate of FILE (SPIFFE ID, chain, expiry, key usages) and every
      X.509-SVID rule with pass or fail (with --bundle, the chain; with --key, the key
      match). Exits 1 if a rule fails.
  proxyless certs verify FILE --bundle FILE [--spiffe-id ID]... [--trust-domain TD]
      Verifies FILE as an X.509-SVID against the bundle's roots (and the identity asked).
      Prints the SPIFFE ID and exits 0, or the rule broken and exits 1.`;


function parse(args: readonly string[], options: ParseArgsOptionsConfig, positionals = false): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: positionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function required(values: Record<string, unknown>, name: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

const KEY_TYPES = new Set(['ec-p256', 'rsa-2048']);

function keyType(values: Record<string, unknown>): 'ec-p256' | 'rsa-2048' | undefined {
  const value = values['key-type'];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !KEY_TYPES.has(value)) throw new UsageError(`--key-type: ${JSON.stringify(value)} (expected: ec-p256 or rsa-2048)`);
  return value as 'ec-p256' | 'rsa-2048';
}

function caCreate(args: readonly string[], io: CliOutput): number {
  const { values } = parse(args, {
    'trust-domain': { type: 'string' },
    dir: { type: 'string' },
    ttl: { type: 'string' },
    'key-type': { type: 'string' },
    force: { type: 'boolean' },
  });
  const trustDomain = required(values, 'trust-domain');
  const dir = required(values, 'dir');
  const type = keyType(values);
  const ca = createDevCa({ trustDomain, ...(values.ttl === undefined ? {} : { ttl: values.ttl as string }), ...(type ? { keyType: type } : {}) });
  writeDevCa(dir, ca, { force: values.force === true });
  const root = ca.roots[0]!;
  io.out(`created a dev root CA for trust domain ${trustDomain} in ${dir}`);
  io.out(`  ${CA_FILES.cert}, ${CA_FILES.root}: ${root.subject.replace(/\n/g, ', ')}, valid until ${root.notAfter.toISOString()}`);
  io.out(`  ${CA_FILES.key}: private key (mode 0600)`);
  io.out(`  sha256 fingerprint ${root.fingerprint256}`);
  return 0;
}

function issue(args: readonly string[], io: CliOutput): number {
  const { values } = parse(args, {
    'ca-dir': { type: 'string' },
    'spiffe-id': { type: 'string' },
    namespace: { type: 'string' },
    'service-account': { type: 'string' },
    'trust-domain': { type: 'string' },
    'out-dir': { type: 'string' },
    ttl: { type: 'string' },
    dns: { type: 'string', multiple: true },
    'key-type': { type: 'string' },
  });
  const caDir = required(values, 'ca-dir');
  const outDir = required(values, 'out-dir');
  const type = keyType(values);
  const ca = loadDevCa(caDir);
  let id: SpiffeId;
  if (values['spiffe-id'] !== undefined) {
    if (values.namespace !== undefined || values['service-account'] !== undefined) throw new UsageError('give either --spiffe-id or --namespace/--service-account, not both');
    id = SpiffeId.parse(values['spiffe-id'] as string);
  } else {
    if (values.namespace === undefined || values['service-account'] === undefined) throw new UsageError('--spiffe-id, or both --namespace and --service-account, are required');
    id = SpiffeId.forServiceAccount((values['trust-domain'] as string | undefined) ?? ca.trustDomain, values.namespace as string, values['service-account'] as string);
  }
  const svid = issueSvid(ca, {
    spiffeId: id,
    ...(values.ttl === undefined ? {} : { ttl: values.ttl as string }),
    ...(values.dns ? { dnsNames: values.dns as string[] } : {}),
    ...(type ? { keyType: type } : {}),
  });
  if (!existsSync(outDir)) mkdirSync(outDir, { recursive: true, mode: 0o700 });
  // The key first: a watcher that sees a new certificate finds its key already there.
  writeFileAtomic(join(outDir, SVID_FILES.key), svid.key, 0o600);
  writeFileAtomic(join(outDir, SVID_FILES.certChain), svid.certChain, 0o644);
  writeFileAtomic(join(outDir, SVID_FILES.roots), svid.roots, 0o644);
  io.out(`issued ${id.uri} in ${outDir}, valid until ${svid.notAfter.toISOString()}`);
  io.out(`  ${SVID_FILES.certChain}, ${SVID_FILES.roots}; ${SVID_FILES.key}: private key (mode 0600)`);
  return 0;
}

/** Runs `proxyless certs ...` with the arguments after `certs`; returns the exit code. */
export async function certs(args: readonly string[], io: CliOutput): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'ca' && rest[0] === 'create') return caCreate(rest.slice(1), io);
    if (command === 'issue') return issue(rest, io);
    if (command === 'inspect') return inspect(rest, io, (a, o) => parse(a, o, true));
    if (command === 'verify') return verify(rest, io, (a, o) => parse(a, o, true));
    if (command === undefined || command === '--help' || command === '-h') {
      io.err(CERTS_USAGE);
      return command === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown certs command ${JSON.stringify(args.slice(0, command === 'ca' ? 2 : 1).join(' '))}`);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`certs: ${error.message}\n${CERTS_USAGE}`);
      return 2;
    }
    if (error instanceof ProxylessError) {
      io.err(`certs: ${(error as Error).message}`);
      return 1;
    }
    throw error;
  }
}
