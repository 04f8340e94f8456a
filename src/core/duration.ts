import * as z from 'zod';

/**
 * Durations as Istio reads them: Go's `time.ParseDuration` syntax (Istio's YAML loader
 * decodes `google.protobuf.Duration` fields with it), so `10s`, `1.5s`, `100ms`, `1h30m`,
 * `1m30s`, `2h45m10.5s`, `+5s` and the bare `0` all parse. One parser and one schema
 * factory serve every duration of the config (VirtualService, DestinationRule and our
 * annotations), each field with its own bounds.
 *
 * Our own code, written from Go's documented grammar: an optional sign, then one or more
 * `<decimal><unit>` parts, units `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`; a decimal
 * has digits before or after its point (`.5s` and `5.s` are valid, `.s` is not); only
 * `0` may go without a unit; the total must fit a signed 64-bit count of nanoseconds.
 * Fractions below a nanosecond are dropped (Go truncates them too).
 */

/** The longest delay Node.js timers honour: 2^31 − 1 ms (about 24.8 days); a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_NS = 2n ** 63n - 1n;
/** Go syntax also takes `1m30s`, `1.5h`, `+5s`; the message stays the short one users know. */
const SYNTAX = 'a duration such as "10s" or "100ms"';

/** Why a text is not a duration (`overflow`: written correctly, but past Go's limit that way), or its length in nanoseconds. */
type Parsed = { readonly ns: bigint } | { readonly problem: string; readonly overflow?: 1 | -1 };

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

/** Parses Go duration syntax into nanoseconds (exact, as a bigint). */
function parseNs(text: string): Parsed {
  let i = 0;
  let negative = false;
  if (text[0] === '-' || text[0] === '+') {
    negative = text[0] === '-';
    i = 1;
  }
  if (text.slice(i) === '0') return { ns: 0n };
  if (i === text.length) return { problem: 'empty' };
  let total = 0n;
  while (i < text.length) {
    const start = i;
    while (isDigit(text[i])) i++;
    const whole = text.slice(start, i);
    let fraction = '';
    if (text[i] === '.') {
      const fractionStart = ++i;
      while (isDigit(text[i])) i++;
      fraction = text.slice(fractionStart, i);
    }
    if (whole === '' && fraction === '') return { problem: `no number at "${text.slice(start)}"` };
    const unitStart = i;
    while (i < text.length && text[i] !== '.' && !isDigit(text[i])) i++;
    const unit = text.slice(unitStart, i);
    if (unit === '') return { problem: `missing unit after "${text.slice(start, i)}"` };
    const perUnit = NS_PER_UNIT[unit];
    if (perUnit === undefined) return { problem: `unknown unit "${unit}"` };
    let part = BigInt(whole === '' ? '0' : whole) * perUnit;
    if (fraction !== '') part += (BigInt(fraction) * perUnit) / 10n ** BigInt(fraction.length);
    total += part;
    if (total > MAX_NS + (negative ? 1n : 0n)) return { problem: 'longer than Go allows (about 292 years)', overflow: negative ? -1 : 1 };
  }
  return { ns: negative ? -total : total };
}

/**
 * A duration's length in milliseconds (fractions kept: `100us` is 0.1) and exactly in
 * nanoseconds (for rules such as Istio's "no sub-millisecond precision"), or a sentence
 * saying why the text is not a duration.
 */
export function parseDuration(text: string): { readonly ms: number; readonly ns: bigint } | { readonly problem: string; readonly overflow?: 1 | -1 } {
  const parsed = parseNs(text);
  if ('problem' in parsed) return parsed;
  // Whole milliseconds and the sub-millisecond rest separately: exact for every bound we use.
  const wholeMs = parsed.ns / 1_000_000n;
  return { ms: Number(wholeMs) + Number(parsed.ns - wholeMs * 1_000_000n) / 1e6, ns: parsed.ns };
}

/**
 * Milliseconds in a duration string that a schema of {@link durationField} already
 * accepted. Throws `TypeError` for any other text (a bug in the caller).
 */
export function durationToMs(text: string): number {
  const parsed = parseDuration(text);
  if ('problem' in parsed) throw new TypeError(`not a duration: ${JSON.stringify(text)} (${parsed.problem})`);
  return parsed.ms;
}

/**
 * Writes milliseconds the way Go's `Duration.String()` does (`596h31m23.647s`, `1.5ms`,
 * `0s`), for messages that quote a bound in the user's own notation.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) {
    if (ms >= 1) return `${trim(ms)}ms`;
    if (ms >= 0.001) return `${trim(ms * 1000)}µs`;
    return `${trim(ms * 1e6)}ns`;
  }
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = trim((ms % 60_000) / 1000);
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trim(value: number): string {
  // Nine significant decimals at most, without trailing zeros (Go prints nanoseconds at most).
  return String(Number(value.toFixed(9)));
}

/** The bounds of one duration field. */
export interface DurationBounds {
  /** Shortest accepted, in ms (inclusive). Default 0. */
  readonly min?: number;
  /** Longest accepted, in ms (inclusive). Default {@link MAX_TIMER_MS}; `Infinity` for Go's own limit. */
  readonly max?: number;
  /** Why the maximum, said in the error (default: Node's timer limit). */
  readonly maxReason?: string;
  /** Why the minimum, said in the error. */
  readonly minReason?: string;
  /**
   * The whole expectation, said for every failure (syntax or bounds) in place of the
   * default words, for fields documented by their range (`a duration from 1ms to 24h`).
   */
  readonly expected?: string;
  /** Also accept zero (`0`, `0s`) below `min`: a field where zero turns something off. */
  readonly zero?: boolean;
  /** Refuse finer precision than whole milliseconds or whole seconds (Istio's `ValidateDuration` rules). */
  readonly whole?: 'ms' | 's';
}

const WHOLE: Readonly<Record<'ms' | 's', { readonly ns: bigint; readonly message: string }>> = {
  ms: { ns: 1_000_000n, message: 'a whole number of milliseconds (Istio refuses finer precision)' },
  s: { ns: 1_000_000_000n, message: 'a whole number of seconds (Istio refuses finer precision here)' },
};

/** Go's longest duration, 2^63-1 ns, as Go writes it. */
const GO_MAX = '2562047h47m16.854775807s';

const TIMER_REASON = "2^31-1 ms, the longest timer Node.js runs: a longer one would fire at once";

/**
 * A zod schema for one duration field: a string in Go duration syntax within `bounds`
 * (by default from 0 to {@link MAX_TIMER_MS}, because every duration we run becomes a
 * timer). The one duration schema: Istio's fields (through `istioDuration`), our
 * annotations and our options all build on it. The parsed value stays a string (read it with {@link durationToMs}); errors
 * say which rule failed: the syntax, or which bound and why.
 */
export function durationField(bounds: DurationBounds = {}): z.ZodType<string> {
  const min = bounds.min ?? 0;
  const max = bounds.max ?? MAX_TIMER_MS;
  const maxReason = bounds.maxReason ?? (bounds.max === undefined ? TIMER_REASON : undefined);
  const expected = bounds.expected;
  // Whole seconds are whole milliseconds too: the finer rule is named first, as Istio does.
  const steps = bounds.whole === 's' ? [WHOLE.ms, WHOLE.s] : bounds.whole === 'ms' ? [WHOLE.ms] : [];
  const problem = (text: string): string | undefined => {
    const parsed = parseDuration(text);
    const atLeast = `a duration of at least ${formatDuration(min)}${bounds.minReason ? ` (${bounds.minReason})` : ''}`;
    // Past Go's limit is past the field's too: say the bound, not "bad syntax", for a text written right.
    const atMost = Number.isFinite(max) ? `a duration of at most ${formatDuration(max)}${maxReason ? ` (${maxReason})` : ''}` : `a duration of at most ${GO_MAX} (the longest Go allows)`;
    if ('problem' in parsed) return parsed.overflow === undefined ? SYNTAX : parsed.overflow > 0 ? atMost : atLeast;
    if (parsed.ns === 0n && bounds.zero) return undefined;
    if (parsed.ms < min) return atLeast;
    const coarser = steps.find((step) => parsed.ns % step.ns !== 0n);
    if (coarser !== undefined) return coarser.message;
    if (parsed.ms > max) return atMost;
    return undefined;
  };
  return z.string({ error: expected ?? SYNTAX }).superRefine((text, ctx) => {
    const message = problem(text);
    if (message !== undefined) ctx.addIssue({ code: 'custom', input: text, message: expected ?? message });
  });
}
