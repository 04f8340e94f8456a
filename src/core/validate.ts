import type * as z from 'zod';

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  function: 'a function',
};

/** A zod issue as reported with `reportInput: true`. */
export type Issue = z.core.$ZodIssue & { input?: unknown };

/** The longest field name a path shows whole; a longer one (hostile input) is cut, as values are. */
const MAX_PATH_PART = 80;

/** Renders a field path the way a user writes it: `discovery[0].servers`. */
export function formatPath(path: readonly PropertyKey[], root = ''): string {
  let out = root;
  for (const part of path) {
    if (typeof part === 'number') {
      out += `[${part}]`;
      continue;
    }
    const name = String(part);
    const shown = name.length > MAX_PATH_PART ? `${name.slice(0, MAX_PATH_PART - 3)}...` : name;
    out += out ? `.${shown}` : shown;
  }
  return out || '(root)';
}

/** Renders a value for an error message, short. */
export function formatValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === undefined) return 'undefined';
  if (typeof value === 'bigint') return `${value}n`;
  // JSON writes NaN and the infinities as null, which would name the wrong value.
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  try {
    // A BigInt inside (JSON has none) is written as one, rather than failing the whole value.
    const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** What the field expected, in words, from one zod issue (reported with `reportInput: true`). */
export function expectation(issue: Issue): string {
  // A schema's own words (`{ error: '...' }`) say it best; zod's defaults start like these.
  if (!/^(Invalid|Too (small|big)|Unrecognized|Expected)\b/.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      return TYPE_WORDS[issue.expected] ?? issue.expected;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' || issue.origin === 'string'
        ? `at most ${String(issue.maximum)} ${issue.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)}`;
    case 'invalid_format':
      return issue.message;
    case 'invalid_union':
      return issue.message.replace(/^Invalid input:?\s*/i, '') || 'one of the documented shapes';
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into lines `field: value (expected: ...)`. Unknown keys become
 * `field.key: (unknown field; expected one of: a, b)` when the allowed keys are given.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  root = '',
  allowedKeys?: (path: readonly PropertyKey[]) => readonly string[] | undefined,
): string[] {
  const lines: string[] = [];
  for (const raw of issues) {
    const issue = raw as Issue;
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys?.(issue.path);
      for (const key of issue.keys) {
        lines.push(
          `${formatPath([...issue.path, key], root)}: unknown field` +
            (allowed ? ` (expected one of: ${allowed.join(', ')})` : ''),
        );
      }
      continue;
    }
    lines.push(`${formatPath(issue.path, root)}: ${formatValue(issue.input)} (expected: ${expectation(issue)})`);
  }
  return lines;
}

/**
 * Parses `value` with `schema` or returns every problem as a formatted line. Reports
 * the offending input in each line (zod's `reportInput`).
 */
export function checkWithSchema<T>(
  schema: z.ZodType<T>,
  value: unknown,
  root = '',
): { ok: true; value: T } | { ok: false; problems: string[] } {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: formatIssues(result.error.issues, root) };
}
