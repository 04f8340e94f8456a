const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function scramble(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/**
 * MurmurHash3 (x86, 32-bit) of the UTF-8 bytes of `input`, as an unsigned integer.
 * Equal to the reference implementation run over `Buffer.from(input, 'utf8')` (a lone
 * surrogate is encoded as U+FFFD, as `TextEncoder` does), without building the bytes.
 * Not cryptographic: used to place keys and endpoints on the ring hash.
 */
export function murmurHash3(input: string, seed = 0): number {
  let h = seed | 0;
  let block = 0; // bytes of the current 4-byte block, little endian
  let length = 0; // bytes consumed so far
  const n = input.length;
  for (let i = 0; i < n; i++) {
    let c = input.charCodeAt(i);
    let bytes: number; // up to 4 bytes packed, first byte lowest
    let count: number;
    if (c < 0x80) {
      bytes = c;
      count = 1;
    } else if (c < 0x800) {
      bytes = (0xc0 | (c >> 6)) | ((0x80 | (c & 0x3f)) << 8);
      count = 2;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = i + 1 < n ? input.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
          i++;
        } else {
          c = 0xfffd; // lone surrogate
        }
      }
      if (c < 0x10000) {
        bytes = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 0x3f)) << 8) | ((0x80 | (c & 0x3f)) << 16);
        count = 3;
      } else {
        bytes =
          (0xf0 | (c >> 18)) |
          ((0x80 | ((c >> 12) & 0x3f)) << 8) |
          ((0x80 | ((c >> 6) & 0x3f)) << 16) |
          ((0x80 | (c & 0x3f)) << 24);
        count = 4;
      }
    }
    for (let b = 0; b < count; b++) {
      block |= ((bytes >>> (8 * b)) & 0xff) << (8 * (length & 3));
      length++;
      if ((length & 3) === 0) {
        h = mixBlock(h, block);
        block = 0;
      }
    }
  }
  if ((length & 3) !== 0) h ^= scramble(block);
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
