/**
 * The one reader of our JSON-valued annotations (`proxyless.dev/retry-budget`,
 * `proxyless.dev/hedging`, `proxyless.dev/circuit-breaker`, `proxyless.dev/health-check`,
 * `proxyless.dev/retry-non-idempotent`): the text is bounded before it is parsed, the
 * parsed value is bounded before a schema recurses into it, and every problem is one
 * line `where: metadata.annotations["key"]<.field>: value (expected: ...)`.
 *
 * @module
 */
import type * as z from 'zod';
import { InvalidConfigError } from '../core/errors/index.js';
import { formatIssues, formatValue } from '../core/validate.js';
import { shapeProblem } from './limits.js';

/**
 * The most text one annotation value may hold, in UTF-8 bytes: 256 KiB, what Kubernetes
 * allows for all the annotations of one object together (`TotalAnnotationSizeLimitB`),
 * so a value Kubernetes would store is never refused here.
 */
export const MAX_ANNOTATION_BYTES = 256 * 1024;

/** One JSON-valued annotation: its key, the schema of its value, and words for messages. */
export interface AnnotationSchema<T> {
  /** The annotation's key, e.g. `proxyless.dev/health-check`. */
  readonly key: string;
  /** Validates the parsed value into what the policy runs on. */
  readonly schema: z.ZodType<T>;
  /** A short valid value, quoted when the text is not JSON, e.g. `{"interval": "10s"}`. */
  readonly example: string;
  /** The value's top-level fields, listed when an unknown one is met. */
  readonly fields?: readonly string[];
}

/** How messages name an annotation: `metadata.annotations["proxyless.dev/hedging"]`. */
export function annotationPath(key: string): string {
  return `metadata.annotations[${JSON.stringify(key)}]`;
}

/**
 * An annotation's value parsed: JSON text is parsed (after a size check), a value given
 * in place of text (an object from code) is taken as it is; either way the result is
 * checked against the config limits on depth and size before anything walks it.
 *
 * @param raw the annotation's value: JSON text, or the value it stands for; undefined when absent
 * @param key the annotation's key, named in errors
 * @param where who holds the annotation, starting every error line, e.g. `DestinationRule/reviews (config[0])`
 * @param example a valid value for the "expected" of a text that is not JSON
 * @throws `InvalidConfigError` with one line naming where, the key, the value (truncated) and what was expected
 */
export function parseAnnotationJson(raw: unknown, key: string, where: string, example = '{}'): unknown {
  const at = `${where}: ${annotationPath(key)}`;
  let value = raw;
  if (typeof raw === 'string') {
    const bytes = raw.length > MAX_ANNOTATION_BYTES / 3 ? Buffer.byteLength(raw) : raw.length;
    if (bytes > MAX_ANNOTATION_BYTES) {
      throw new InvalidConfigError([`${at}: ${formatValue(raw)} (expected: at most ${MAX_ANNOTATION_BYTES} bytes of JSON, what Kubernetes allows for all of an object's annotations; this value has ${bytes})`]);
    }
    try {
      value = JSON.parse(raw);
    } catch (error) {
      throw new InvalidConfigError([`${at}: ${formatValue(raw)} (expected: a JSON object such as ${example}; ${(error as Error).message})`]);
    }
  }
  // The schema recurses: bound the value first, as the resource around it was.
  const shape = shapeProblem(value);
  if (shape !== undefined) throw new InvalidConfigError([shape.startsWith(':') ? `${at}${shape}` : `${at}: ${shape}`]);
  return value;
}

/**
 * Validates an annotation's value (JSON text, or the value in place of text) with its
 * schema.
 *
 * @param value the annotation's value
 * @param annotation the annotation's key, schema and example
 * @param where who holds the annotation, starting every error line
 * @throws `InvalidConfigError` listing every problem as `where: metadata.annotations["key"].field: value (expected: ...)`
 */
export function checkAnnotation<T>(value: unknown, annotation: AnnotationSchema<T>, where: string): T {
  const parsed = parseAnnotationJson(value, annotation.key, where, annotation.example);
  const result = annotation.schema.safeParse(parsed, { reportInput: true });
  if (result.success) return result.data;
  const fields = annotation.fields;
  const lines = formatIssues(result.error.issues, annotationPath(annotation.key), fields ? (path) => (path.length === 0 ? fields : undefined) : undefined);
  throw new InvalidConfigError(lines.map((line) => `${where}: ${line}`));
}

/**
 * An annotation read from a resource's annotations and validated; undefined when the
 * resource does not carry it.
 *
 * @param annotations the resource's `metadata.annotations` (anything: it is checked)
 * @param annotation the annotation's key, schema and example
 * @param where who holds the annotation, starting every error line
 * @throws `InvalidConfigError` as {@link checkAnnotation} does
 */
export function readAnnotation<T>(annotations: unknown, annotation: AnnotationSchema<T>, where: string): T | undefined {
  const raw = annotationRaw(annotations, annotation.key);
  return raw === undefined ? undefined : checkAnnotation(raw, annotation, where);
}

/** The value under `key` in an annotations object, or undefined (also when `annotations` is not an object). */
export function annotationRaw(annotations: unknown, key: string): unknown {
  if (annotations === null || typeof annotations !== 'object') return undefined;
  // Own keys only: `__proto__` or `constructor` as a key must not reach Object.prototype.
  return Object.hasOwn(annotations, key) ? (annotations as Record<string, unknown>)[key] : undefined;
}
