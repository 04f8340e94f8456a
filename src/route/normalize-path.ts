import { InvalidRequestError } from '../core/errors/index.js';

/**
 * Request path normalisation before route matching, as Istio configures Envoy (MeshConfig
 * `pathNormalization`). Without it `/%61dmin`, `/x/../admin` or `/x\admin` miss a
 * `prefix: /admin` route while the backend serves `/admin`. The normalised path is also
 * what goes upstream (Envoy rewrites `:path`), so the route and the backend agree.
 *
 * - `NONE`: the path is left as it is.
 * - `BASE` (Istio's default): RFC 3986 normalisation as Envoy's `normalize_path` does it
 *   (Chromium's URL path canonicaliser): dot segments resolved (`.`, `..`, and their
 *   `%2e` spellings), percent-escapes of unreserved characters decoded (`%61` → `a`;
 *   `%2F`, `%5C` and other escapes kept as written), backslashes turned into slashes,
 *   characters that may not appear in a path percent-encoded (space, `"`, `<`, `>`, `^`,
 *   `` ` ``, `{`, `|`, `}`, control and non-ASCII bytes).
 * - `MERGE_SLASHES`: `BASE`, then runs of slashes merged (`//a///b` → `/a/b`).
 * - `DECODE_AND_MERGE_SLASHES`: `%2F`/`%2f` and `%5C`/`%5c` decoded first (Envoy's
 *   `UNESCAPE_AND_FORWARD`), then `MERGE_SLASHES`.
 *
 * In every mode a fragment (`#...`) is removed: it is never sent (Envoy under Istio
 * strips it), and a path with a NUL byte (raw or `%00`) is refused, as Istio does with a
 * 400. Only the path is normalised, never the query. A path that does not start with `/`
 * (absolute-form, `*`) is left to undici.
 *
 * Our own implementation of the rules above, written from Envoy's and Istio's documented
 * behaviour.
 */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

/** The steps of a mode, as bit flags: what the hot path tests. */
export enum PathSteps {
  None = 0,
  Base = 1,
  MergeSlashes = 2,
  DecodeSlashes = 4,
}

/** The steps of a mode. */
export function pathSteps(mode: PathNormalization): PathSteps {
  switch (mode) {
    case 'NONE':
      return PathSteps.None;
    case 'BASE':
      return PathSteps.Base;
    case 'MERGE_SLASHES':
      return PathSteps.Base | PathSteps.MergeSlashes;
    case 'DECODE_AND_MERGE_SLASHES':
      return PathSteps.Base | PathSteps.MergeSlashes | PathSteps.DecodeSlashes;
  }
}

// How the canonicaliser treats each ASCII character: copied as is, decoded when escaped
// (unreserved), percent-encoded, or special (`.`, `%`, `\`).
const PASS = 0;
const UNESCAPE = 1;
const ESCAPE = 2;
const SPECIAL = 3;
const CLASS = new Uint8Array(128).fill(PASS);
for (let c = 0; c <= 0x20; c++) CLASS[c] = ESCAPE;
CLASS[0x7f] = ESCAPE;
for (const c of '"#<>?^`{|}') CLASS[c.charCodeAt(0)] = ESCAPE;
for (const c of '-_~') CLASS[c.charCodeAt(0)] = UNESCAPE;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = UNESCAPE;
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UNESCAPE;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = UNESCAPE;
for (const c of '.%\\') CLASS[c.charCodeAt(0)] = SPECIAL;
const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * The normalised form of a request path (`/a/b?q`), or `path` itself when it is already
 * normal (the common case costs one scan, no allocation). Throws
 * {@link InvalidRequestError} for a NUL byte or a character undici cannot send (above
 * \xFF).
 */
export function normalizePath(path: string, steps: PathSteps): string {
  const hash = path.indexOf('#');
  if (hash >= 0) path = path.slice(0, hash);
  if (steps === PathSteps.None || path.charCodeAt(0) !== SLASH) return path;
  const merge = (steps & PathSteps.MergeSlashes) !== 0;
  // Fast check: nothing to decode, encode, resolve or merge (most paths).
  let previous = 0;
  let plain = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f) break; // the query is never touched
    const kind = c >= 0x80 ? ESCAPE : CLASS[c];
    if ((kind === SPECIAL && (c !== DOT || previous === SLASH)) || kind === ESCAPE || (merge && c === SLASH && previous === SLASH)) {
      plain = false;
      break;
    }
    previous = c;
  }
  if (plain) return path;
  const q = path.indexOf('?');
  const end = q < 0 ? path.length : q;
  let input = path.slice(0, end);
  if ((steps & PathSteps.DecodeSlashes) !== 0) input = input.replace(/%2f/gi, '/').replace(/%5c/gi, '\\');
  let out = canonicalize(input);
  if (merge) out = out.replace(/\/{2,}/g, '/');
  return out + path.slice(end);
}

/** ASCII codes of the hex digits, upper case (an escape is written `%HH`). */
const HEX = Uint8Array.from('0123456789ABCDEF', (c) => c.charCodeAt(0));

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** The byte `%HH` at `i` stands for, or -1 when `i` does not start a valid escape. */
function escapeAt(s: string, i: number): number {
  if (s.charCodeAt(i) !== 0x25 || i + 2 >= s.length) return -1;
  const high = hexValue(s.charCodeAt(i + 1));
  const low = hexValue(s.charCodeAt(i + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/** Length of a dot at `i`: 1 for `.`, 3 for `%2e`/`%2E`, 0 for anything else. */
function dotAt(s: string, i: number): number {
  if (s.charCodeAt(i) === DOT) return 1;
  return escapeAt(s, i) === DOT ? 3 : 0;
}

function isSlash(c: number): boolean {
  return c === SLASH || c === 0x5c;
}

function refuse(path: string, why: string): never {
  throw new InvalidRequestError(`request path ${JSON.stringify(path.length > 200 ? `${path.slice(0, 197)}...` : path)} ${why}`);
}

/**
 * The path part, canonicalised (see the module comment, `BASE`). Linear in the path: the
 * output is written into a byte buffer (every output character is ASCII), because
 * building it as a string and reading its last character or cutting it at each step made
 * V8 flatten the whole string again each time (quadratic: a 128 K path of `x.` blocked
 * the event loop for seconds).
 */
function canonicalize(s: string): string {
  // At most three output bytes per input character (an escape, or a stray `%` written `%25`).
  const out = Buffer.allocUnsafe(s.length * 3);
  let n = 0;
  // Output index of a `%` that did not start a valid escape: a later decoded hex digit
  // must not turn it into one (`%%30` would read as `%0` + ..., a new escape).
  let loosePercent = -10;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) refuse(s, 'has a character above \\xFF, which HTTP cannot carry (percent-encode it as UTF-8)');
    const kind = c >= 0x80 ? ESCAPE : CLASS[c]!;
    if (kind === PASS || kind === UNESCAPE) {
      out[n++] = c;
      continue;
    }
    if (kind === ESCAPE) {
      if (c === 0) refuse(s, 'has a NUL byte');
      out[n++] = 0x25;
      out[n++] = HEX[c >> 4]!;
      out[n++] = HEX[c & 15]!;
      continue;
    }
    const dot = dotAt(s, i);
    if (dot > 0) {
      if (n > 0 && out[n - 1] === SLASH) {
        const next = i + dot;
        if (next === s.length || isSlash(s.charCodeAt(next))) {
          // `.` segment: dropped (with its slash).
          i = next === s.length ? next - 1 : next;
          continue;
        }
        const second = dotAt(s, next);
        const after = next + second;
        if (second > 0 && (after === s.length || isSlash(s.charCodeAt(after)))) {
          // `..` segment: back to the previous slash, never above the root. What the
          // search passes over is dropped, so all the searches together stay linear.
          let previousSlash = n - 2;
          while (previousSlash >= 0 && out[previousSlash] !== SLASH) previousSlash--;
          n = Math.max(previousSlash, 0) + 1;
          if (loosePercent >= n) loosePercent = -10;
          i = after === s.length ? after - 1 : after;
          continue;
        }
      }
      out[n++] = DOT;
      i += dot - 1;
      continue;
    }
    if (c === 0x5c) {
      out[n++] = SLASH;
      continue;
    }
    // `%`
    const byte = escapeAt(s, i);
    if (byte < 0) {
      loosePercent = n;
      out[n++] = 0x25;
      continue;
    }
    if (byte === 0) refuse(s, 'has %00 (a NUL byte), which Istio refuses with 400');
    if (byte < 0x80 && CLASS[byte] === UNESCAPE) {
      if (loosePercent >= n - 2 && hexValue(byte) >= 0) {
        // `%` + this hex digit (+ the next) could read as an escape: write that `%` as
        // `%25` (at most two bytes follow it, so the shift is short).
        out.copyWithin(loosePercent + 3, loosePercent + 1, n);
        out[loosePercent + 1] = 0x32;
        out[loosePercent + 2] = 0x35;
        n += 2;
        loosePercent = -10;
      }
      out[n++] = byte;
    } else {
      // Reserved or non-ASCII: kept escaped, exactly as written (servers may care about case).
      out[n++] = 0x25;
      out[n++] = s.charCodeAt(i + 1);
      out[n++] = s.charCodeAt(i + 2);
    }
    i += 2;
  }
  return out.toString('latin1', 0, n);
}
