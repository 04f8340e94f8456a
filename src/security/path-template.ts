/**
 * AuthorizationPolicy path templates (`/api/{*}/items`, `/static/{**}`), matched as
 * Envoy's URI template matcher does once Istio turns `{*}` into `*` and `{**}` into `**`
 * (istio/istio pilot/pkg/security/authz/matcher/template.go): the template is `/`
 * followed by its segments joined with `/`, where
 *
 * - a literal segment matches itself (case-sensitive);
 * - `{*}` matches one non-empty segment of path characters (letters, digits and
 *   `-._~%!$&'()+,;:@=`, no `/`);
 * - `{**}` matches zero or more characters of those and `/`; it is the last operator,
 *   literal segments may follow it.
 *
 * So `/static/{**}` matches `/static/` and `/static/a/b.css` but not `/static`. The path
 * is the request's path without its query. Our own matcher, written from that grammar;
 * it reads the path in place and allocates nothing.
 *
 * @module
 */

const MATCH_ONE = '{*}';
const MATCH_ANY = '{**}';

/** Characters `{*}` and `{**}` may match (`{**}` also `/`). */
const PATH_CHAR = new Uint8Array(128);
for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()+,;:@=") PATH_CHAR[c.charCodeAt(0)] = 1;

const SLASH = 47;

function pathChar(c: number, slashToo: boolean): boolean {
  return c < 128 && (PATH_CHAR[c] === 1 || (slashToo && c === SLASH));
}

/** Whether a policy path is a template (contains `{*}` or `{**}`). */
export function isPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
}

/** One segment before `{**}`: a literal, or `null` for `{*}`. */
type Segment = string | null;

/** A compiled path template. */
export class PathTemplate {
  private readonly head: readonly Segment[];
  /** Whether the template has `{**}`. */
  private readonly rest: boolean;
  /** What must follow `{**}`'s match: `/` and the literal segments after it, joined. */
  private readonly tail: string;
  /** The template as written. */
  readonly template: string;

  /** @param template a path template as validation accepts it (`{**}` last among operators) */
  constructor(template: string) {
    this.template = template;
    const segments = template.replace(/^\//, '').split('/');
    const any = segments.indexOf(MATCH_ANY);
    const head = any < 0 ? segments : segments.slice(0, any);
    this.head = head.map((s) => (s === MATCH_ONE ? null : s));
    this.rest = any >= 0;
    this.tail = any < 0 ? '' : segments.slice(any + 1).map((s) => `/${s}`).join('');
    if (this.rest && segments.slice(any + 1).some((s) => s === MATCH_ONE || s === MATCH_ANY)) {
      throw new Error(`path template "${template}": {**} must be the last operator`);
    }
  }

  /** Whether `path` (no query) matches the template. */
  matches(path: string): boolean {
    if (path.charCodeAt(0) !== SLASH) return false;
    let at = 1;
    const head = this.head;
    for (let s = 0; s < head.length; s++) {
      if (s > 0) {
        if (path.charCodeAt(at) !== SLASH) return false;
        at++;
      }
      const segment = head[s]!;
      if (segment === null) {
        const start = at;
        while (at < path.length && path.charCodeAt(at) !== SLASH) {
          if (!pathChar(path.charCodeAt(at), false)) return false;
          at++;
        }
        if (at === start) return false;
      } else {
        if (!path.startsWith(segment, at)) return false;
        at += segment.length;
      }
    }
    if (!this.rest) return at === path.length;
    // `{**}` comes after a `/` when segments precede it.
    if (head.length > 0) {
      if (path.charCodeAt(at) !== SLASH) return false;
      at++;
    }
    const end = path.length - this.tail.length;
    if (end < at || !path.endsWith(this.tail)) return false;
    for (let i = at; i < end; i++) if (!pathChar(path.charCodeAt(i), true)) return false;
    return true;
  }
}
