import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { murmurHash3 } from '../../../src/balance/hash.js';

/** Straightforward MurmurHash3 x86_32 over bytes, to compare with. */
function reference(bytes: Uint8Array, seed: number): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed | 0;
  const blocks = bytes.length & ~3;
  for (let i = 0; i < blocks; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | bytes[blocks + i]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

describe('murmurHash3', () => {
  it('matches published MurmurHash3 x86_32 test vectors', () => {
    expect(murmurHash3('', 0)).toBe(0);
    expect(murmurHash3('', 1)).toBe(0x514e28b7);
    expect(murmurHash3('', 0xffffffff)).toBe(0x81f16f39);
    expect(murmurHash3('\0\0\0\0', 0)).toBe(0x2362f9de);
    expect(murmurHash3('aaaa', 0x9747b28c)).toBe(0x5a97808a);
    expect(murmurHash3('abc', 0)).toBe(0xb3dd93fa);
    expect(murmurHash3('Hello, world!', 0x9747b28c)).toBe(0x24884cba);
    expect(murmurHash3('The quick brown fox jumps over the lazy dog', 0x9747b28c)).toBe(0x2fa826cd);
    expect(murmurHash3('The quick brown fox jumps over the lazy dog')).toBe(0x2e4ff723);
  });

  it('hashes the UTF-8 bytes (multi-byte characters, surrogate pairs, lone surrogates)', () => {
    for (const text of ['é', '€', 'Jörg', '日本語', '😀', 'a😀b', '\ud800', 'x\udc00y', '\ud83d']) {
      expect(murmurHash3(text, 7)).toBe(reference(new TextEncoder().encode(text), 7));
    }
  });

  it('equals the byte-wise reference for any string and seed', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (text, seed) => {
        expect(murmurHash3(text, seed)).toBe(reference(new TextEncoder().encode(text), seed));
      }),
    );
  });

  it('returns an unsigned 32-bit integer', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const hash = murmurHash3(text);
        expect(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff).toBe(true);
      }),
    );
  });
});
