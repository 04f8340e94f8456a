/**
 * Field paths in config messages, in one format for errors, warnings and notes: keys
 * joined with `.`, list positions as `[i]`, and a key that is not a plain identifier
 * (`[A-Za-z_][A-Za-z0-9_-]*`) as a JSON string in brackets:
 *
 * ```text
 * spec.http[0].match[0].headers.end-user
 * spec.http[0].match[0].headers["@request.auth.claims.group"]
 * spec.subsets[0].labels["app.kubernetes.io/name"]
 * ```
 *
 * The format of the Istio conformance corpus (test/conformance/istio/README.md), so a
 * message's path can be compared with the field a case names.
 *
 * @module
 */

/** One step of a path: an object key or a list position. */
export type PathPart = string | number;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Renders `parts` as a field path (`spec.http[0].headers["x y"]`); '' for the root. */
export function formatConfigPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = String(part);
      if (IDENTIFIER.test(key)) out += out === '' ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}
