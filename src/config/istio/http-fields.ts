import * as z from 'zod';

/**
 * Config fields that end up in an HTTP request or response: header names and values,
 * authorities, paths. Each is checked at load against what undici accepts at send time
 * (and what HTTP allows), so a bad value is a config error naming the field instead of
 * a failure of every request it applies to. A CR or LF in a value would otherwise reach
 * undici (which refuses it: header injection) on every request.
 */

/** RFC 9110 `token`: the characters a header name may have. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TOKEN_WORDS = "a header name (RFC 9110 token: letters, digits and !#$%&'*+-.^_`|~)";
/** HTTP/2 pseudo-headers Istio accepts in a match (they are never request headers here). */
const PSEUDO_HEADERS = new Set([':method', ':scheme', ':authority', ':path', ':status']);
/** The prefix of a header name that routes on a JWT claim (`@request.auth.claims.group`). */
const CLAIM_PREFIX = '@request.auth.claims';

/** Why `name` is not a header name, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  if (name === '') return 'a non-empty header name';
  return TOKEN.test(name) ? undefined : TOKEN_WORDS;
}

/**
 * Whether a match header name routes on a JWT claim, as Istio reads it
 * (`pkg/jwt/routing.go: ToRoutingClaim`): `@request.auth.claims.<name>[.<name>...]` or
 * `@request.auth.claims[<name>][<name>...]`, the prefix in any case.
 */
export function isJwtClaimHeader(name: string): boolean {
  if (!name.toLowerCase().startsWith(CLAIM_PREFIX)) return false;
  const rest = name.slice(CLAIM_PREFIX.length);
  return (rest.startsWith('.') && rest.length > 1) || (rest.startsWith('[') && rest.endsWith(']') && rest.length > 2);
}

/** Header names in a match (`ValidateHTTPHeaderNameOrJwtClaimRoute`): a token, a pseudo-header, or a JWT claim. */
function matchHeaderNameProblem(name: string): string | undefined {
  if (isJwtClaimHeader(name) || PSEUDO_HEADERS.has(name)) return undefined;
  if (name.toLowerCase().startsWith('@')) return `${TOKEN_WORDS}, or a JWT claim written "@request.auth.claims.<claim>"`;
  return headerNameProblem(name);
}

/** Whether a header names the request's authority (`:authority` or `host`, any case). */
export function isAuthorityHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === ':authority' || lower === 'host';
}

/** Names a request's `set`/`add` may use (`ValidateHTTPHeaderWithAuthorityOperationName`): not a pseudo-header but `:authority`. */
function requestWriteNameProblem(name: string): string | undefined {
  if (isAuthorityHeader(name)) return undefined;
  if (name.startsWith(':')) return `${TOKEN_WORDS}; a route may not set pseudo-headers other than ":authority"`;
  return headerNameProblem(name);
}

/** Names a request's `remove` and a response's operations may use (`ValidateHTTPHeaderOperationName`): not `host`, not a pseudo-header. */
function operationNameProblem(name: string): string | undefined {
  if (name.toLowerCase() === 'host') return `${TOKEN_WORDS} other than "host" (Envoy does not let a route remove it, or change it in a response)`;
  if (name.startsWith(':')) return `${TOKEN_WORDS}; a route may not change pseudo-headers here`;
  return headerNameProblem(name);
}

/** What undici sends in a header value: tab, visible ASCII, space and bytes 0x80-0xFF; never CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Why a header value is not one Envoy's header formatter reads, or undefined: a `%`
 * starts a variable (`%HOSTNAME%`, `%REQ(x-id)%`, `%START_TIME(%s)%`) unless written `%%`.
 * The states of Envoy's `HeaderParser`, which Istio's `validateHeaderValue` follows.
 */
export function headerFormatProblem(value: string): string | undefined {
  type State = 'literal' | 'name' | 'array' | 'string-start' | 'string' | 'delimiter' | 'args-end' | 'variable-end';
  let state: State = 'literal';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    switch (state) {
      case 'literal':
        if (c !== '%') break;
        if (i + 1 === value.length) return 'a header value where "%" starts an Envoy variable such as %HOSTNAME% (write "%%" for a literal %)';
        if (value[i + 1] === '%') i++;
        else state = 'name';
        break;
      case 'name':
        if (c === '%') state = 'literal';
        else if (c === '(') state = 'array';
        break;
      case 'array':
        if (c === '[') state = 'string-start';
        else if (c !== ' ') state = 'string';
        break;
      case 'delimiter':
        if (c === ',') state = 'string-start';
        else if (c === ']') state = 'args-end';
        else if (c !== ' ') return `a header value whose Envoy variable arguments are a JSON list of strings (expected "," or "]" at character ${i + 1})`;
        break;
      case 'string-start':
        if (c === '"') state = 'string';
        else if (c !== ' ') return `a header value whose Envoy variable arguments are a JSON list of strings (expected '"' at character ${i + 1})`;
        break;
      case 'string':
        if (c === '\\') {
          if (i + 1 === value.length) return 'a header value without a trailing backslash in an Envoy variable argument';
          i++;
        } else if (c === ')') state = 'variable-end';
        else if (c === '"') state = 'delimiter';
        break;
      case 'args-end':
        if (c === ')') state = 'variable-end';
        else if (c !== ' ') return `a header value whose Envoy variable closes its arguments with ")" (character ${i + 1})`;
        break;
      case 'variable-end':
        if (c === '%') state = 'literal';
        else if (c !== ' ') return `a header value whose Envoy variable ends with "%" after its arguments (character ${i + 1})`;
        break;
    }
  }
  return state === 'literal' ? undefined : 'a header value whose Envoy variable is terminated by "%" (write "%%" for a literal %)';
}

/** Whether a header value holds an Envoy variable (`%HOSTNAME%`), which proxyless sends as written. */
export function hasHeaderVariable(value: string): boolean {
  return /%[^%]+%/.test(value.replaceAll('%%', ''));
}

/** A header value a route sets or adds; `%%` is Envoy's escape for a literal `%`, so it is sent as `%`. */
export const headerValueSchema = z
  .string({ error: 'a header value (string)' })
  .superRefine((value, ctx) => {
    if (!HEADER_VALUE.test(value)) {
      ctx.addIssue({ code: 'custom', input: value, message: 'a header value without control characters (no CR, LF or NUL) and no character above \\xFF' });
      return;
    }
    const problem = headerFormatProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', input: value, message: problem });
  })
  .transform((value) => value.replaceAll('%%', '%'));

/**
 * A record keyed by header name (`headers`, `withoutHeaders` of a match; `set` and `add`
 * of header operations), each key checked by `rule`.
 */
function headerRecord<T extends z.ZodType>(value: T, rule: (name: string) => string | undefined) {
  return z.record(z.string(), value).superRefine((record, ctx) => {
    for (const name of Object.keys(record)) {
      const problem = rule(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], input: name, message: problem });
    }
  });
}

function headerNameList(rule: (name: string) => string | undefined) {
  return z.array(
    z.string().superRefine((name, ctx) => {
      const problem = rule(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', input: name, message: problem });
    }),
  );
}

/** The `headers`/`withoutHeaders` map of an `HTTPMatchRequest`. */
export const matchHeadersSchema = <T extends z.ZodType>(value: T) => headerRecord(value, matchHeaderNameProblem);

/** Istio `HeaderOperations` of a response: set, add, remove. */
export const headerOperationsSchema = z.strictObject({
  set: headerRecord(headerValueSchema, operationNameProblem).optional(),
  add: headerRecord(headerValueSchema, operationNameProblem).optional(),
  remove: headerNameList(operationNameProblem).optional(),
});

/** Istio `HeaderOperations` of a request: as a response's, and `set`/`add` may name `:authority` or `host` (the authority). */
export const requestHeaderOperationsSchema = z.strictObject({
  set: headerRecord(headerValueSchema, requestWriteNameProblem).optional(),
  add: headerRecord(headerValueSchema, requestWriteNameProblem).optional(),
  remove: headerNameList(operationNameProblem).optional(),
});

/**
 * An authority (`host[:port]`) sent as the `host` header or written into a redirect:
 * a registered name or IP address (IPv6 in brackets) and an optional port; no user info
 * (`@`), path, query, fragment or whitespace. `""` means unset, as in Istio's API.
 */
export const authoritySchema = z
  .string({ error: 'an authority such as "reviews.prod:9080" (a string)' })
  .regex(/^((\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(:\d{1,5})?)?$/, {
    error: 'an authority such as "reviews.prod" or "reviews.prod:9080" (host and optional port; no "@", "/", "?", "#" or spaces)',
  })
  .transform((value) => (value === '' ? undefined : value));

/**
 * A path a route writes (`rewrite.uri`, `redirect.uri`): starts with `/`, visible ASCII
 * only (percent-encode the rest), no fragment. `""` means unset, as in Istio's API.
 */
export const pathSchema = z
  .string({ error: 'a path such as "/v2/reviews" (a string)' })
  .regex(/^(\/[\x21-\x22\x24-\x7e]*)?$/, {
    error: 'a path starting with "/" such as "/v2/reviews" (visible ASCII; percent-encode spaces and other characters; no "#")',
  })
  .transform((value) => (value === '' ? undefined : value));

/** The largest `directResponse` body Istio accepts: 1 MB. */
export const MAX_DIRECT_RESPONSE_BYTES = 1024 * 1024;

/**
 * Istio `HTTPBody`: `string`, or `bytes` in base64 (protobuf's JSON form of bytes: the
 * standard or URL-safe alphabet, padding optional). Either at most 1 MB (Istio's limit).
 */
export const httpBodySchema = z
  .strictObject({
    string: z.string().optional(),
    bytes: z
      .string()
      .regex(/^[A-Za-z0-9+/_-]*={0,2}$/, { error: 'base64 bytes (protobuf JSON), such as "aGVsbG8="' })
      .optional(),
  })
  .superRefine((body, ctx) => {
    if (body.string !== undefined && body.bytes !== undefined) ctx.addIssue({ code: 'custom', input: body, message: 'at most one of string, bytes' });
    const size = body.string !== undefined ? Buffer.byteLength(body.string) : body.bytes !== undefined ? Buffer.byteLength(body.bytes, 'base64') : 0;
    if (size > MAX_DIRECT_RESPONSE_BYTES) ctx.addIssue({ code: 'custom', input: `(${size} bytes)`, message: "a body of at most 1 MB (Istio's limit)" });
  });
