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

/** Why `name` is not a header name, or undefined. */
export function headerNameProblem(name: string): string | undefined {
  return TOKEN.test(name) ? undefined : TOKEN_WORDS;
}

/** Header names in a match: a token, or one of the pseudo-headers Istio accepts there. */
function matchHeaderNameProblem(name: string): string | undefined {
  return PSEUDO_HEADERS.has(name) ? undefined : headerNameProblem(name);
}

/** Header names a route sets, adds or removes. */
function operationHeaderNameProblem(name: string): string | undefined {
  if (name.startsWith(':')) return `${TOKEN_WORDS}; Istio's ":authority" form is not supported: use rewrite.authority`;
  return headerNameProblem(name);
}

/** What undici sends in a header value: tab, visible ASCII, space and bytes 0x80-0xFF; never CR, LF or NUL. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A header value a route sets or adds. */
export const headerValueSchema = z
  .string({ error: 'a header value (string)' })
  .regex(HEADER_VALUE, { error: 'a header value without control characters (no CR, LF or NUL) and no character above \\xFF' });

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

/** The `headers`/`withoutHeaders` map of an `HTTPMatchRequest`. */
export const matchHeadersSchema = <T extends z.ZodType>(value: T) => headerRecord(value, matchHeaderNameProblem);

/** Istio `HeaderOperations`: set, add, remove. */
export const headerOperationsSchema = z.strictObject({
  set: headerRecord(headerValueSchema, operationHeaderNameProblem).optional(),
  add: headerRecord(headerValueSchema, operationHeaderNameProblem).optional(),
  remove: z
    .array(z.string().superRefine((name, ctx) => {
      const problem = operationHeaderNameProblem(name);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', input: name, message: problem });
    }))
    .optional(),
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
