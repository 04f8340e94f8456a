// identityFromFiles against real files in a temporary directory, written the ways a
// rotating agent writes them (whole files renamed in, one file at a time, cut short).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, SvidError } from '../../../src/core/errors/index.js';
import { identityFromFiles, type FileIdentitySource } from '../../../src/tls/file-identity.js';
import { createDevCa, issueSvid, type DevCa, type IssuedSvid, type X509Svid } from '../../../src/tls/index.js';
import { writeFileAtomic } from '../../../src/tls/dev-ca.js';
import { nextEvent } from '../../helpers/wait.js';

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const FAST = { debounce: 20, settle: 300, retryInterval: 100 };

let dir: string;
let ca: DevCa;
let sources: FileIdentitySource[];

function write(target: string, svid: IssuedSvid, parts: ReadonlyArray<'certChain' | 'key' | 'roots'> = ['certChain', 'key', 'roots']): void {
  const names = { certChain: 'cert-chain.pem', key: 'key.pem', roots: 'root-cert.pem' } as const;
  for (const part of parts) writeFileAtomic(join(target, names[part]), svid[part], part === 'key' ? 0o600 : 0o644);
}

function open(options: Parameters<typeof identityFromFiles>[0]): FileIdentitySource {
  const source = identityFromFiles(options);
  sources.push(source);
  return source;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'proxyless-svid-files-'));
  ca = createDevCa({ trustDomain: 'cluster.local' });
  sources = [];
});
afterEach(async () => {
  for (const source of sources) await source.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('identityFromFiles', () => {
  it("reads istio-agent's layout at once and picks up a new pair without a restart", async () => {
    const first = issueSvid(ca, { spiffeId: ID });
    write(dir, first);
    const source = open({ dir, ...FAST });
    const before = source.current();
    expect(before?.spiffeId.uri).toBe(ID);
    expect(before?.certChainPem()).toBe(first.certChain);
    const rotated = nextEvent<[X509Svid, X509Svid | undefined]>(source, 'rotated');
    const second = issueSvid(ca, { spiffeId: ID });
    write(dir, second);
    const [svid, previous] = await rotated;
    expect(previous).toBe(before);
    expect(svid.certChainPem()).toBe(second.certChain);
    expect(source.current()).toBe(svid);
  });

  it('never takes a half-written certificate: it is reported once it stays so, and the good SVID stays in use', async () => {
    write(dir, issueSvid(ca, { spiffeId: ID }));
    const source = open({ dir, ...FAST });
    const good = source.current()!;
    const rotations: X509Svid[] = [];
    source.on('rotated', (svid) => rotations.push(svid));
    const errored = nextEvent<[Error]>(source, 'error');
    const next = issueSvid(ca, { spiffeId: ID });
    writeFileSync(join(dir, 'cert-chain.pem'), next.certChain.slice(0, next.certChain.length / 2)); // a writer cut off mid-file
    const [error] = await errored;
    expect(error).toBeInstanceOf(SvidError);
    expect((error as SvidError).rule).toBe('malformed');
    expect(error.message).toContain('cert-chain.pem');
    expect(error.message).toContain('the SVID in use is kept');
    expect(source.current()).toBe(good);
    expect(rotations).toHaveLength(0);
    // The writer finishes (the key too): the new pair is taken.
    const rotated = nextEvent<[X509Svid]>(source, 'rotated');
    write(dir, next);
    expect((await rotated)[0].certChainPem()).toBe(next.certChain);
  });

  it('never takes a mismatched pair (a new certificate with the old key), and takes the pair once the key follows', async () => {
    write(dir, issueSvid(ca, { spiffeId: ID }));
    const source = open({ dir, ...FAST });
    const good = source.current()!;
    const next = issueSvid(ca, { spiffeId: ID });
    const errored = nextEvent<[Error]>(source, 'error');
    write(dir, next, ['certChain']);
    const [error] = await errored;
    expect((error as SvidError).rule).toBe('key_mismatch');
    expect(error.message).not.toMatch(/BEGIN|PRIVATE KEY/);
    expect(source.current()).toBe(good);
    const rotated = nextEvent<[X509Svid]>(source, 'rotated');
    write(dir, next, ['key']);
    expect((await rotated)[0].certChainPem()).toBe(next.certChain);
  });

  it('takes a pair replaced file by file within the settle time without reporting anything', async () => {
    write(dir, issueSvid(ca, { spiffeId: ID }));
    const source = open({ dir, ...FAST, settle: 5000 });
    const errors: Error[] = [];
    source.on('error', (error) => errors.push(error));
    const next = issueSvid(ca, { spiffeId: ID });
    const rotated = nextEvent<[X509Svid]>(source, 'rotated');
    const held = nextEvent<[string]>(source, 'held');
    write(dir, next, ['certChain']);
    // The certificate alone is read (debounced, twice) and held as suspect; then the key comes.
    expect((await held)[0]).toMatch(/does not belong to the certificate/);
    write(dir, next, ['key']);
    expect((await rotated)[0].certChainPem()).toBe(next.certChain);
    expect(errors).toEqual([]);
  });

  it('waits for files that are not there yet, then becomes ready', async () => {
    const source = open({ dir, ...FAST });
    expect(source.current()).toBeUndefined();
    expect(source.lastError?.message).toMatch(/cert-chain\.pem.*missing or unreadable; waiting for the files/);
    const ready = source.ready();
    write(dir, issueSvid(ca, { spiffeId: ID }));
    expect((await ready).spiffeId.uri).toBe(ID);
  });

  it('refuses to start serving an SVID of a CA the roots do not hold', async () => {
    const other = createDevCa({ trustDomain: 'cluster.local' });
    const stranger = issueSvid(other, { spiffeId: ID });
    write(dir, { ...stranger, roots: issueSvid(ca, { spiffeId: ID }).roots });
    const source = open({ dir, ...FAST });
    expect(source.current()).toBeUndefined();
    expect((source.lastError as SvidError).rule).toBe('untrusted');
    await expect(source.ready({ timeout: 50 })).rejects.toThrow(/has no SVID: none within 50 ms; last error: .*not a root of trust domain/);
  });

  it('does not read a certificate file beyond 1 MiB, and says so', async () => {
    const svid = issueSvid(ca, { spiffeId: ID });
    write(dir, { ...svid, certChain: svid.certChain + '#'.repeat(1024 * 1024) });
    const source = open({ dir, ...FAST });
    expect(source.current()).toBeUndefined();
    expect(source.lastError?.message).toMatch(/unreadable \(.*holds \d+ bytes \(expected: at most 1048576/);
  });

  it('reads explicit paths in different places', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    for (const d of [a, b]) mkdirSync(d);
    const svid = issueSvid(ca, { spiffeId: ID });
    writeFileAtomic(join(a, 'tls.crt'), svid.certChain, 0o644);
    writeFileAtomic(join(a, 'tls.key'), svid.key, 0o600);
    writeFileAtomic(join(b, 'ca.crt'), svid.roots, 0o644);
    const source = open({ certChain: join(a, 'tls.crt'), key: join(a, 'tls.key'), roots: join(b, 'ca.crt'), ...FAST });
    expect(source.current()?.spiffeId.uri).toBe(ID);
    const next = issueSvid(ca, { spiffeId: ID });
    const rotated = nextEvent<[X509Svid]>(source, 'rotated');
    writeFileAtomic(join(a, 'tls.key'), next.key, 0o600);
    writeFileAtomic(join(a, 'tls.crt'), next.certChain, 0o644);
    expect((await rotated)[0].certChainPem()).toBe(next.certChain);
  });

  it('refuses bad options, naming each field', () => {
    let error: InvalidOptionError | undefined;
    try {
      identityFromFiles({ dir, certChain: 'x', debounce: -1 } as never);
    } catch (e) {
      error = e as InvalidOptionError;
    }
    expect(error?.problems).toEqual([
      'dir: given with certChain/key/roots (expected: either dir, or all three files)',
      'debounce: -1 (expected: a whole number of milliseconds up to 60000)',
    ]);
    expect(() => identityFromFiles({ certChain: 'a', key: '' } as never)).toThrow(/key: "" \(expected: a file path\)\n\s+roots: undefined/);
  });
});
