import type { ScalarTag } from 'yaml';

/**
 * Plain (unquoted) YAML scalars read the way Istio's tools read them. `kubectl` and
 * `istioctl` turn YAML into JSON with sigs.k8s.io/yaml, which uses go-yaml v2: a YAML 1.1
 * reader with rules of its own (go-yaml v2 `resolve.go: resolve`). Where YAML 1.1 and the
 * YAML 1.2 core schema differ, a file must mean here what it means to a cluster:
 *
 * - `y Y yes Yes YES on On ON` are true and `n N no No NO off Off OFF` false, besides
 *   the `true`/`false` forms (`ignoreUriCase: yes` is true; `labels: {canary: yes}` is a
 *   boolean, which a string field refuses).
 * - Integers are Go's `strconv.ParseInt(s, 0, 64)` after removing every `_`: `0144` is
 *   octal (100), `0o17`, `0x1F`, `0b101` are read, `1_000` is 1000. No base 60: `1:30`
 *   stays a string.
 * - Floats follow go-yaml's pattern (`1.5`, `.5`, `1e3`, `09` as 9.0); `.inf`, `.nan`
 *   and their spellings are read as numbers (JSON has no form for them: the schemas
 *   refuse them, naming the field).
 * - Timestamps stay strings (go-yaml keeps them as strings in untyped decoding).
 * - `~`, `null`, `Null`, `NULL` and the empty scalar are null.
 *
 * Quoted scalars are always strings, and merge keys (`<<`) work as in YAML 1.1.
 * See test/conformance/istio/semantics.md §1.2.
 *
 * @module
 */

const TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const NULL = new Set(['', '~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOATS = new Map<string, number>([
  ['.nan', NaN],
  ['.NaN', NaN],
  ['.NAN', NaN],
  ['.inf', Infinity],
  ['.Inf', Infinity],
  ['.INF', Infinity],
  ['+.inf', Infinity],
  ['+.Inf', Infinity],
  ['+.INF', Infinity],
  ['-.inf', -Infinity],
  ['-.Inf', -Infinity],
  ['-.INF', -Infinity],
]);
/** go-yaml v2's `yamlStyleFloat`. */
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** What Go's `strconv.ParseFloat` takes after a leading `.` (go-yaml's `.` case). */
const DOT_FLOAT = /^\.[0-9]+([eE][-+]?[0-9]+)?$/;
/** Go's `strconv.ParseInt(s, 0, 64)` syntax (underscores removed before). */
const GO_INT = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/** Go's `ParseInt`/`ParseUint` with base 0 on `text`, or undefined when it fails (syntax or range). */
function goParseInt(text: string): number | undefined {
  if (!GO_INT.test(text)) return undefined;
  const negative = text.startsWith('-');
  const body = text.replace(/^[-+]/, '');
  // The base from the prefix (a lone leading 0 is octal in Go), then the significant digits.
  const prefix = /^0[xXoObB]/.test(body) ? body.slice(0, 2).toLowerCase() : body.length > 1 && body.startsWith('0') ? '0o' : '';
  const digits = body.slice(prefix === '' ? 0 : prefix === '0o' && !/^0[oO]/.test(body) ? 1 : 2).replace(/^0+(?=.)/, '');
  // Past 64 significant digits (binary's most) it is out of range whatever the base: said
  // without parsing, so a megabyte of digits costs no quadratic BigInt parse.
  if (digits.length > 64) return undefined;
  const magnitude = BigInt(`${prefix}${digits}`);
  const value = negative ? -magnitude : magnitude;
  if (value < INT64_MIN || value > UINT64_MAX) return undefined;
  return Number(value);
}

/** The value go-yaml v2 gives a plain scalar (see the module comment). */
export function resolveGoYamlPlain(text: string): unknown {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  if (NULL.has(text)) return null;
  const special = SPECIAL_FLOATS.get(text);
  if (special !== undefined) return special;
  const first = text[0]!;
  if (first === '.') return DOT_FLOAT.test(text) ? Number(text) : text;
  if (first === '+' || first === '-' || (first >= '0' && first <= '9')) {
    const plain = text.replaceAll('_', '');
    const int = goParseInt(plain);
    if (int !== undefined) return int;
    if (YAML_STYLE_FLOAT.test(plain)) {
      const float = Number(plain);
      if (!Number.isNaN(float)) return float;
    }
  }
  return text;
}

/**
 * The `yaml` package tag that resolves every plain scalar as go-yaml v2 does. Put it
 * first in the schema's tag list (after the merge tag, so `<<` keys still merge): it
 * matches any plain scalar. Explicit tags (`!!str 80`) are resolved by the standard tags.
 */
export const goYamlPlainScalar: ScalarTag = {
  tag: 'tag:proxyless.dev,2026:go-yaml-plain',
  default: true,
  test: /^[\s\S]*$/,
  resolve: (text: string) => resolveGoYamlPlain(text),
  identify: () => false,
};
