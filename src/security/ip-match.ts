/**
 * IP addresses against the CIDR blocks of AuthorizationPolicy `ipBlocks`,
 * `remoteIpBlocks`, `source.ip`, `remote.ip` and `destination.ip` (a single address is a
 * /32 or /128 block), without allocating per request: an address is read into a scratch
 * array of four 32-bit words, and the last address read is remembered, since one request
 * asks about the same address many times.
 *
 * An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack Node server reports
 * for an IPv4 client) is read as the IPv4 address. A zone (`fe80::1%eth0`) is ignored.
 *
 * @module
 */
import { RememberingSet } from './remembering-set.js';

/** A parsed CIDR block. */
interface Block {
  readonly v4: boolean;
  readonly words: Uint32Array;
  readonly bits: number;
}

const scratch = new Uint32Array(4);
const groups = new Uint16Array(8);
let lastInput: string | undefined;
/** 0: not an address; 4 or 6: the family of `scratch`. */
let lastFamily = 0;

/** Reads dotted IPv4 `text[start, end)` into a number, or -1. */
function readV4(text: string, start: number, end: number): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      // No leading zeros (Go's netip and Node's net.isIP refuse them).
      if (digits === 1 && part === 0) return -1;
      part = part * 10 + (c - 48);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/** Reads IPv6 `text[0, end)` into `groups`; returns whether it is an address. */
function readV6(text: string, end: number): boolean {
  let count = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === end) {
      groups.fill(0);
      return true;
    }
  }
  while (i < end) {
    if (count === 8) return false;
    // An embedded IPv4 address at the end.
    let j = i;
    let hex = 0;
    let digits = 0;
    while (j < end) {
      const c = text.charCodeAt(j);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
      if (d < 0) break;
      hex = hex * 16 + d;
      digits++;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 46) {
      if (count > 6) return false;
      const v4 = readV4(text, i, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      i = end;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    groups[count++] = hex;
    if (j === end) {
      i = j;
      break;
    }
    if (text.charCodeAt(j) !== 58) return false;
    if (text.charCodeAt(j + 1) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === end) return false;
    }
  }
  if (gap < 0) return count === 8;
  if (count === 8) return false;
  // Move the groups after the gap to the end.
  const tail = count - gap;
  for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k]!;
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

/**
 * Reads `text` into `scratch`; returns 4, 6, or 0 when it is not an address. An
 * IPv4-mapped IPv6 address reads as IPv4.
 */
function read(text: string): number {
  if (text === lastInput) return lastFamily;
  lastInput = text;
  let end = text.indexOf('%');
  if (end < 0) end = text.length;
  const v4 = readV4(text, 0, end);
  if (v4 >= 0) {
    scratch[0] = v4;
    return (lastFamily = 4);
  }
  if (!readV6(text, end)) return (lastFamily = 0);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    scratch[0] = ((groups[6]! << 16) | groups[7]!) >>> 0;
    return (lastFamily = 4);
  }
  for (let k = 0; k < 4; k++) scratch[k] = ((groups[2 * k]! << 16) | groups[2 * k + 1]!) >>> 0;
  return (lastFamily = 6);
}

/**
 * Parses `10.0.0.0/8`, `2001:db8::/32` or a single address; undefined when it is neither.
 * A block written in IPv4-mapped form (`::ffff:10.0.0.0/104`) with a prefix of 96 bits or
 * more is the IPv4 block it maps (`10.0.0.0/8`), as addresses in that form are read as IPv4.
 */
export function parseBlock(text: string): Block | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  if (address.includes('%')) return undefined;
  const family = read(address);
  if (family === 0) return undefined;
  const written6 = address.includes(':');
  const max = written6 ? 128 : 32;
  let bits = max;
  if (slash >= 0) {
    const suffix = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(suffix) || Number(suffix) > max) return undefined;
    bits = Number(suffix);
  }
  if (family === 4 && written6) {
    // IPv4-mapped: the IPv4 block when the prefix covers the mapping, else the IPv6 block.
    if (bits >= 96) return { v4: true, words: Uint32Array.of(scratch[0]!), bits: bits - 96 };
    return { v4: false, words: Uint32Array.of(0, 0, 0xffff, scratch[0]!), bits };
  }
  const words = new Uint32Array(family === 4 ? 1 : 4);
  for (let k = 0; k < words.length; k++) words[k] = scratch[k]!;
  return { v4: family === 4, words, bits };
}

function inBlock(block: Block): boolean {
  let bits = block.bits;
  for (let k = 0; k < block.words.length && bits > 0; k++) {
    const take = bits >= 32 ? 32 : bits;
    const mask = take === 32 ? 0xffffffff : (0xffffffff << (32 - take)) >>> 0;
    if (((scratch[k]! ^ block.words[k]!) & mask) !== 0) return false;
    bits -= take;
  }
  return true;
}

/** A compiled list of CIDR blocks (any may contain the address). */
export class IpBlockSet extends RememberingSet {
  private readonly blocks: readonly Block[];

  /** @throws Error naming the first value that is not an address or a CIDR block */
  constructor(values: readonly string[]) {
    super(values);
    this.blocks = values.map((value) => {
      const block = parseBlock(value);
      if (block === undefined) throw new Error(`"${value}" is not an IP address or a CIDR block`);
      return block;
    });
  }

  /** Whether `address` is in one of the blocks; an unreadable address is in none. */
  protected override compute(address: string): boolean {
    const family = read(address);
    if (family === 0) return false;
    const blocks = this.blocks;
    for (let i = 0; i < blocks.length; i++) {
      const block = blocks[i]!;
      if (block.v4 === (family === 4) && inBlock(block)) return true;
    }
    return false;
  }
}
