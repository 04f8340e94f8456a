import { fullMatcher } from '../config/re2.js';

/** A compiled Istio `StringMatch`: exact, prefix, regex, or presence (`{}`). */
export type StringMatcher = (value: string | undefined) => boolean;

/** The StringMatch shape as validated config gives it. */
export interface StringMatchSpec {
  exact?: string | undefined;
  prefix?: string | undefined;
  regex?: string | undefined;
}

/**
 * Compiles a StringMatch once, at config load. `ignoreCase` lowers both sides (Istio's
 * `ignoreUriCase`, for the URI only). Regexes run on RE2 (linear time, RE2 syntax) and
 * must match the whole value, as Envoy's `safe_regex` does. An empty match `{}` matches
 * any present value.
 */
export function compileStringMatch(spec: StringMatchSpec, ignoreCase = false): StringMatcher {
  if (spec.exact !== undefined) {
    const exact = ignoreCase ? spec.exact.toLowerCase() : spec.exact;
    return ignoreCase ? (v) => v !== undefined && v.toLowerCase() === exact : (v) => v === exact;
  }
  if (spec.prefix !== undefined) {
    const prefix = ignoreCase ? spec.prefix.toLowerCase() : spec.prefix;
    return ignoreCase
      ? (v) => v !== undefined && v.toLowerCase().startsWith(prefix)
      : (v) => v !== undefined && v.startsWith(prefix);
  }
  if (spec.regex !== undefined) {
    const regex = fullMatcher(spec.regex, ignoreCase);
    return (v) => v !== undefined && regex.test(v);
  }
  return (v) => v !== undefined;
}
