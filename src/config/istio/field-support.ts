import * as z from 'zod';

/**
 * What proxyless does with each field of Istio's networking API, recorded on the schema
 * of the field itself: the loader warns from it when a resource uses a field proxyless
 * does not apply, and docs/istio-fields.md (the README's field table) is generated from
 * it, so the two cannot drift apart.
 *
 * A field without an entry is `supported`. A field that is not supported is still
 * validated as Istio validates it, so a file is accepted or refused as a cluster would.
 *
 * @module
 */

/**
 * - `supported`: applied as Istio applies it (`note` may say how, or what is partial);
 * - `deprecated`: applied, and a warning names the replacement (`note`);
 * - `warned`: accepted and validated, not applied: a warning says what Istio does with it;
 * - `not-applicable`: describes something an in-process mesh has no part in (a gateway's
 *   TLS passthrough, TCP proxying); accepted, validated and warned about.
 */
export type Support = 'supported' | 'deprecated' | 'warned' | 'not-applicable';

/** The support entry of one field. */
export interface FieldSupport {
  readonly support: Support;
  /** `supported`: how (optional); `deprecated`: what to write instead; otherwise: what Istio does with the field. */
  readonly note: string;
}

/** Support entries by field schema (the schema placed in its parent's shape). */
export const fieldSupport = z.registry<FieldSupport>();

function mark<T extends z.ZodType>(schema: T, entry: FieldSupport): T {
  fieldSupport.add(schema, entry);
  return schema;
}

/** A field proxyless applies; `note` says how, when it helps. */
export function supported<T extends z.ZodType>(schema: T, note = ''): T {
  return mark(schema, { support: 'supported', note });
}

/** A deprecated field proxyless still applies; `note` says what Istio does and what to write instead. */
export function deprecated<T extends z.ZodType>(schema: T, note: string): T {
  return mark(schema, { support: 'deprecated', note });
}

/** A field proxyless validates but does not apply; `whatIstioDoes` goes into the warning. */
export function notSupported<T extends z.ZodType>(schema: T, whatIstioDoes: string): T {
  return mark(schema, { support: 'warned', note: whatIstioDoes });
}

/** A field about something an in-process mesh has no part in; `whatIstioDoes` goes into the warning. */
export function notApplicable<T extends z.ZodType>(schema: T, whatIstioDoes: string): T {
  return mark(schema, { support: 'not-applicable', note: whatIstioDoes });
}

/** The warning for a field used in a resource, or undefined when it is applied as written. */
export function supportWarning(entry: FieldSupport | undefined): string | undefined {
  if (entry === undefined) return undefined;
  switch (entry.support) {
    case 'supported':
      return undefined;
    case 'deprecated':
      return `deprecated: ${entry.note}`;
    case 'warned':
      return `not supported by proxyless, ignored: ${entry.note}`;
    case 'not-applicable':
      return `does not apply to an in-process mesh, ignored: ${entry.note}`;
  }
}

/** The schema under wrappers that do not change which fields exist (optional, nullable, default, transforms, refinements). */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = current.def as { type: string; innerType?: z.ZodType; in?: z.ZodType };
    if ((def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'prefault' || def.type === 'readonly') && def.innerType) {
      current = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      current = def.in;
    } else {
      return current;
    }
  }
}

/**
 * Walks a parsed value along its schema and reports each field present whose schema is
 * marked other than `supported`, with its path; below a field that is not applied only
 * deprecated fields are reported (one warning says the rest). Iterative, and it visits
 * only what is present.
 */
export function unsupportedFields(
  schema: z.ZodType,
  value: unknown,
  report: (path: readonly (string | number)[], entry: FieldSupport) => void,
): void {
  // `ignored`: below a field that is not applied, where only deprecated fields are still
  // worth a word (they say what to write instead).
  const pending: Array<{ schema: z.ZodType; value: unknown; path: (string | number)[]; ignored: boolean }> = [{ schema, value, path: [], ignored: false }];
  while (pending.length > 0) {
    const { schema: outer, value: current, path, ignored } = pending.pop()!;
    if (current === null || current === undefined || typeof current !== 'object') continue;
    const inner = unwrap(outer);
    const def = inner.def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType };
    if (def.type === 'object' && def.shape) {
      for (const [key, field] of Object.entries(def.shape)) {
        const child = (current as Record<string, unknown>)[key];
        if (child === undefined) continue;
        const entry = fieldSupport.get(field);
        const applied = entry === undefined || entry.support === 'supported' || entry.support === 'deprecated';
        if (entry !== undefined && entry.support !== 'supported' && (!ignored || entry.support === 'deprecated')) report([...path, key], entry);
        pending.push({ schema: field, value: child, path: [...path, key], ignored: ignored || !applied });
      }
    } else if (def.type === 'array' && def.element && Array.isArray(current)) {
      current.forEach((item, i) => pending.push({ schema: def.element!, value: item, path: [...path, i], ignored }));
    } else if (def.type === 'record' && def.valueType) {
      for (const [key, item] of Object.entries(current)) pending.push({ schema: def.valueType, value: item, path: [...path, key], ignored });
    }
  }
}
