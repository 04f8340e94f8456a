// `proxyless certs`, run as a user runs it (a child process), with openssl as the outside
// check of what it makes.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyUsageBits } from '../../src/tls/index.js';
import { testLeaf, testRoot } from '../helpers/svid-certs.js';
import { requireBinaries } from '../helpers/system-binaries.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

type Result = { code: number | null; stdout: string; stderr: string };

function run(file: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: root, env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH}` }, timeout: 25_000 }, (error, stdout, stderr) => {
      const killed = error !== null && (error as { killed?: boolean }).killed === true;
      resolve({ code: killed ? null : error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const cli = (...args: string[]): Promise<Result> => run(`${root}node_modules/.bin/tsx`, ['--conditions=proxyless-source', 'src/cli/main.ts', 'certs', ...args]);

// Each test starts the CLI (tsx) up to four times: allow for a loaded machine.
describe('proxyless certs', { timeout: 90_000 }, () => {
  let dir: string;
  let outputs: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'proxyless-certs-cli-'));
    outputs = [];
    const created = await cli('ca', 'create', '--trust-domain', 'example.org', '--dir', join(dir, 'ca'));
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const issued = await cli('issue', '--ca-dir', join(dir, 'ca'), '--namespace', 'default', '--service-account', 'web', '--out-dir', join(dir, 'web'), '--ttl', '2h');
    expect(issued.code).toBe(0);
    outputs.push(created.stdout, created.stderr, issued.stdout, issued.stderr);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('ca create and issue write the files, keys with mode 0600, and print no key', () => {
    expect(statSync(join(dir, 'ca', 'ca-key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'web', 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'web', 'cert-chain.pem')).mode & 0o777).toBe(0o644);
    const keyBody = readFileSync(join(dir, 'web', 'key.pem'), 'utf8').split('\n')[1]!;
    const caKeyBody = readFileSync(join(dir, 'ca', 'ca-key.pem'), 'utf8').split('\n')[1]!;
    for (const text of outputs) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
      expect(text).not.toContain(caKeyBody);
    }
    expect(outputs[2]).toContain('issued spiffe://example.org/ns/default/sa/web');
  });

  it('ca create refuses to replace a CA without --force', async () => {
    const again = await cli('ca', 'create', '--trust-domain', 'example.org', '--dir', join(dir, 'ca'));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already holds ca-key.pem');
  });

  it.skipIf(openssl.skip)(`openssl reads what it made: an SVID with the SPIFFE URI SAN, critical keyUsage, CA:FALSE, verified by the root${openssl.note}`, async () => {
    const text = await run('openssl', ['x509', '-in', join(dir, 'web', 'cert-chain.pem'), '-noout', '-text']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('URI:spiffe://example.org/ns/default/sa/web');
    expect(text.stdout).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Key Encipherment/);
    expect(text.stdout).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text.stdout).toMatch(/TLS Web Server Authentication, TLS Web Client Authentication/);
    const rootText = await run('openssl', ['x509', '-in', join(dir, 'ca', 'root-cert.pem'), '-noout', '-text']);
    expect(rootText.stdout).toMatch(/CA:TRUE/);
    expect(rootText.stdout).toMatch(/Certificate Sign, CRL Sign/);
    expect(rootText.stdout).toContain('URI:spiffe://example.org');
    const verified = await run('openssl', ['verify', '-CAfile', join(dir, 'ca', 'root-cert.pem'), join(dir, 'web', 'cert-chain.pem')]);
    expect(verified.stdout).toContain(': OK');
    const key = await run('openssl', ['pkey', '-in', join(dir, 'web', 'key.pem'), '-pubout']);
    const certKey = await run('openssl', ['x509', '-in', join(dir, 'web', 'cert-chain.pem'), '-noout', '-pubkey']);
    expect(key.stdout).toBe(certKey.stdout);
  });

  it('inspect prints the SPIFFE ID, the chain, the expiry and every rule as pass', async () => {
    const out = await cli('inspect', join(dir, 'web', 'cert-chain.pem'), '--bundle', join(dir, 'web', 'root-cert.pem'), '--key', join(dir, 'web', 'key.pem'));
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('SPIFFE ID:        spiffe://example.org/ns/default/sa/web');
    expect(out.stdout).toMatch(/issuer: +O=example\.org, CN=proxyless dev root [0-9a-f]{8}/);
    expect(out.stdout).toMatch(/\(expires in (1h\d+m\d+s|2h0m[01]s|2h)\)/); // issued for 2 h, however slow the machine
    expect(out.stdout.match(/^ {2}pass {2}/gm)).toHaveLength(10);
    expect(out.stdout).not.toMatch(/FAIL|PRIVATE/);
  });

  it('inspect marks each broken rule FAIL with its code and exits 1', async () => {
    const caRoot = testRoot('example.org');
    const bad = testLeaf(caRoot, 'spiffe://example.org/a', {
      uris: ['spiffe://example.org/a', 'spiffe://example.org/b'],
      keyUsage: { flags: KeyUsageBits.digitalSignature, critical: false },
    });
    writeFileSync(join(dir, 'bad.pem'), bad.pem);
    writeFileSync(join(dir, 'bad-root.pem'), caRoot.pem);
    const out = await cli('inspect', join(dir, 'bad.pem'), '--bundle', join(dir, 'web', 'root-cert.pem'));
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/FAIL {2}exactly one URI SAN.*2 URI SANs.*\[PROXYLESS_ERR_SVID_MULTIPLE_URI_SANS\]/);
    expect(out.stdout).toMatch(/FAIL {2}keyUsage is critical.*\[PROXYLESS_ERR_SVID_KEY_USAGE_NOT_CRITICAL\]/);
    expect(out.stdout).toMatch(/FAIL {2}chains to a root of .*\[PROXYLESS_ERR_SVID_/);
    expect(out.stdout).toMatch(/pass {2}leaf is not a CA/);
    expect(out.stdout).toContain('NOT a valid X.509-SVID (3 rules failed)');
  });

  it('verify says OK with the SPIFFE ID, or the rule broken (wrong ID, untrusted) with exit 1', async () => {
    const ok = await cli('verify', join(dir, 'web', 'cert-chain.pem'), '--bundle', join(dir, 'ca', 'root-cert.pem'), '--spiffe-id', 'spiffe://example.org/ns/default/sa/web');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/OK spiffe:\/\/example\.org\/ns\/default\/sa\/web \(chain of 2/);
    const wrong = await cli('verify', join(dir, 'web', 'cert-chain.pem'), '--bundle', join(dir, 'ca', 'root-cert.pem'), '--spiffe-id', 'spiffe://example.org/ns/default/sa/db');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('SPIFFE ID spiffe://example.org/ns/default/sa/web (expected: spiffe://example.org/ns/default/sa/db)');
    const untrusted = await cli('verify', join(dir, 'web', 'cert-chain.pem'), '--bundle', join(dir, 'bad-root.pem'));
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/not a root of trust domain example\.org/);
  });

  it('usage errors exit 2 with the usage', async () => {
    const missing = await cli('issue', '--ca-dir', join(dir, 'ca'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--out-dir is required');
    const unknown = await cli('rotate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown certs command "rotate"');
    const badId = await cli('issue', '--ca-dir', join(dir, 'ca'), '--spiffe-id', 'spiffe://example.org/a?b', '--out-dir', join(dir, 'x'));
    expect(badId.code).toBe(1);
    expect(badId.stderr).toContain('it has a query');
  });
});
