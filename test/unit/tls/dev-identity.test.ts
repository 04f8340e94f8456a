// devIdentity: issuance from a CA on disk and rotation at about half the lifetime. Time is
// faked (the rotation timers and Date), the CA and the certificates are real.
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { InvalidOptionError } from '../../../src/core/errors/index.js';
import { devIdentity } from '../../../src/tls/dev-identity.js';
import { createDevCa, verifySvid, writeDevCa, type X509Svid } from '../../../src/tls/index.js';

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';
let caDir: string;

beforeAll(() => {
  caDir = mkdtempSync(join(tmpdir(), 'proxyless-dev-ca-'));
  writeDevCa(caDir, createDevCa({ trustDomain: 'cluster.local' }));
});
afterAll(() => rmSync(caDir, { recursive: true, force: true }));
afterEach(() => vi.useRealTimers());

describe('devIdentity', () => {
  it('issues a valid SVID at once, for the ID asked, with the lifetime asked', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }); // a fixed clock: the lifetime is exact
    const source = devIdentity({ caDir, spiffeId: ID, ttl: '1h' });
    const svid = source.current()!;
    expect(svid.spiffeId.uri).toBe(ID);
    expect(verifySvid(svid.chain, svid.bundle, { expect: { ids: [ID] } }).spiffeId.uri).toBe(ID);
    expect(svid.notAfter.getTime() - Date.now()).toBeGreaterThanOrEqual(3600_000);
    expect(svid.notAfter.getTime() - Date.now()).toBeLessThan(3601_000); // rounded up to a whole second
    await expect(source.ready()).resolves.toBe(svid);
    await source.close();
  });

  it("defaults to Istio's 24 h lifetime", async () => {
    const source = devIdentity({ caDir, spiffeId: ID });
    expect(source.ttl).toBe(24 * 3600_000);
    await source.close();
  });

  it('rotates at half the lifetime (jitter at its middle), then again half the new lifetime later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const source = devIdentity({ caDir, spiffeId: ID, ttl: '10s', random: () => 0.5 });
    const first = source.current()!;
    const rotations: X509Svid[] = [];
    source.on('rotated', (svid) => rotations.push(svid));
    // Half of the lifetime (10 s, rounded up to a whole second of notAfter).
    const due = first.notBefore.getTime() + 60_000 + (first.notAfter.getTime() - first.notBefore.getTime() - 60_000) / 2;
    expect(Math.abs(source.nextRotation!.getTime() - due)).toBeLessThanOrEqual(1000);
    expect(source.nextRotation!.getTime() - Date.now()).toBeGreaterThanOrEqual(5000);
    expect(source.nextRotation!.getTime() - Date.now()).toBeLessThanOrEqual(5500);
    await vi.advanceTimersByTimeAsync(source.nextRotation!.getTime() - Date.now() - 1);
    expect(rotations).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(rotations).toHaveLength(1);
    expect(rotations[0]!.leaf.serialNumber).not.toBe(first.leaf.serialNumber);
    expect(rotations[0]!.notAfter.getTime()).toBeGreaterThan(first.notAfter.getTime());
    await vi.advanceTimersByTimeAsync(source.nextRotation!.getTime() - Date.now() + 1);
    expect(rotations).toHaveLength(2);
    // Every SVID handed out was valid when it was current.
    for (const svid of rotations) expect(() => verifySvid(svid.chain, svid.bundle)).not.toThrow();
    await source.close();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(rotations).toHaveLength(2);
  });

  it.each([
    [0, 0.45],
    [0.999999, 0.55],
  ])('with random() = %d the rotation comes at %d of the lifetime (± rotationJitter 0.05)', async (random, ratio) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const source = devIdentity({ caDir, spiffeId: ID, ttl: 100_000, random: () => random });
    const lifetime = source.current()!.notAfter.getTime() - Date.now();
    expect(lifetime).toBeGreaterThanOrEqual(100_000);
    expect(source.nextRotation!.getTime() - Date.now()).toBeCloseTo(lifetime * ratio, -1);
    await source.close();
  });

  it('keeps the SVID in use and reports an error when the CA cannot be read, then recovers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-dev-ca-gone-'));
    writeDevCa(dir, createDevCa({ trustDomain: 'cluster.local' }));
    const source = devIdentity({ caDir: dir, spiffeId: ID, ttl: '10s', random: () => 0.5 });
    const first = source.current()!;
    const errors: Error[] = [];
    const rotations: X509Svid[] = [];
    source.on('error', (error) => errors.push(error));
    source.on('rotated', (svid) => rotations.push(svid));
    renameSync(dir, `${dir}.moved`);
    try {
      await vi.advanceTimersByTimeAsync(source.nextRotation!.getTime() - Date.now() + 1);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/issuing a new SVID failed .*ca-cert\.pem.*the SVID in use is kept, retrying/s);
      expect(source.current()).toBe(first);
      renameSync(`${dir}.moved`, dir);
      await vi.advanceTimersByTimeAsync(1000); // retry after a tenth of the lifetime
      expect(rotations).toHaveLength(1);
      expect(source.lastError).toBeUndefined();
    } finally {
      await source.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.moved`, { recursive: true, force: true });
    }
  });

  it('says when the CA cuts SVIDs short, and does not spin while the CA runs out', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-dev-ca-short-'));
    try {
      writeDevCa(dir, createDevCa({ trustDomain: 'cluster.local', ttl: '10s' }));
      const source = devIdentity({ caDir: dir, spiffeId: ID, ttl: '1h' });
      expect(source.lastError?.message).toMatch(/expires at .*so this SVID lives \d+ ms instead of 3600000 ms; create a new CA/);
      const rotatedAt: number[] = [Date.now()];
      const errors: Error[] = [];
      source.on('rotated', () => rotatedAt.push(Date.now()));
      source.on('error', (error) => errors.push(error));
      await vi.advanceTimersByTimeAsync(30_000);
      // Lifetimes cut by the CA halve at each rotation, which would rotate ever faster as
      // the CA's end nears: no two rotations come closer than 100 ms.
      const gaps = rotatedAt.slice(1).map((t, i) => t - rotatedAt[i]!);
      expect(gaps.length).toBeGreaterThan(3);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(100);
      expect(errors.at(-1)?.message).toMatch(/issuing a new SVID failed .*expired/s);
      expect(source.current()).toBeDefined();
      await source.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the rotation within ratio ± jitter whatever random() returns', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    for (const [random, ratio] of [[5, 0.55], [-3, 0.45], [Number.NaN, 0.45]] as const) {
      const source = devIdentity({ caDir, spiffeId: ID, ttl: 100_000, random: () => random });
      const lifetime = source.current()!.notAfter.getTime() - Date.now();
      expect(source.nextRotation!.getTime() - Date.now()).toBeCloseTo(lifetime * ratio, -1);
      await source.close();
    }
  });

  it('refuses bad options with one line per field', () => {
    const refused = (options: object): InvalidOptionError => {
      try {
        devIdentity(options as never);
      } catch (error) {
        return error as InvalidOptionError;
      }
      throw new Error('accepted');
    };
    const error = refused({ caDir, spiffeId: 'spiffe://Cluster/x', ttl: '0.5s', rotationRatio: 1.5, color: 'red' });
    expect(error.problems).toEqual([
      'color: unknown field (expected one of: caDir, spiffeId, ttl, rotationRatio, rotationJitter, keyType, random)',
      expect.stringMatching(/^spiffeId: "spiffe:\/\/Cluster\/x" \(expected: a SPIFFE ID; .*upper-case/),
      'ttl: "0.5s" (expected: at least 1s)',
      'rotationRatio: 1.5 (expected: a number between 0 and 1, exclusive)',
      expect.stringMatching(/^rotationJitter: 0.05/),
    ]);
    expect(() => devIdentity({ caDir, spiffeId: 'spiffe://other.org/ns/a/sa/b' })).toThrow(/an ID of the CA's trust domain cluster\.local/);
    expect(() => devIdentity({ caDir: join(caDir, 'nope'), spiffeId: ID })).toThrow(/has no readable ca-cert\.pem \(ENOENT/);
  });
});
