import type * as z from 'zod';
import { destinationRuleSpecSchema } from './destination-rule.js';
import { fieldSupport, unwrap, type Support } from './field-support.js';
import { serviceEntrySpecSchema } from './service-entry.js';
import { virtualServiceSpecSchema } from './virtual-service.js';

/**
 * The table of every field of Istio's networking API and what proxyless does with it,
 * generated from the schemas' support marks (field-support.ts), so the documentation
 * cannot drift from the loader: docs/istio-fields.md is this text, written by
 * `npm run docs:fields` and compared by a test.
 *
 * @module
 */

/** One row: a field path and what proxyless does with it. */
export interface FieldRow {
  /** `spec.http[].match[].uri`. */
  readonly path: string;
  readonly support: Support;
  readonly note: string;
  /** For a field that is not applied: its subfields, listed in the note instead of rows of their own. */
  readonly subfields: readonly string[];
  /** A field of the same type as an earlier one (a subset's trafficPolicy): that field's path; its fields are not repeated. */
  readonly sameAs?: string;
}

const KINDS: ReadonlyArray<readonly [string, z.ZodType]> = [
  ['VirtualService', virtualServiceSpecSchema],
  ['DestinationRule', destinationRuleSpecSchema],
  ['ServiceEntry', serviceEntrySpecSchema],
];

/** The child schemas of a schema, with the path suffix each adds (`.name`, `[]`, `.<key>`). */
function children(schema: z.ZodType): Array<[string, z.ZodType]> {
  const def = unwrap(schema).def as { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; valueType?: z.ZodType };
  if (def.type === 'object' && def.shape) return Object.entries(def.shape).map(([key, child]) => [`.${key}`, child]);
  if (def.type === 'array' && def.element) return [['[]', def.element]];
  if (def.type === 'record' && def.valueType) return [['.<key>', def.valueType]];
  return [];
}

/** Every field path under `schema` (depth first, in declaration order), its own suffix chain included. */
function allPaths(schema: z.ZodType, prefix: string, seen: Set<z.ZodType>): string[] {
  const out: string[] = [];
  for (const [suffix, child] of children(schema)) {
    const path = prefix + suffix;
    if (!suffix.startsWith('[')) out.push(path);
    if (!seen.has(child)) {
      seen.add(child);
      out.push(...allPaths(child, path, seen));
      seen.delete(child);
    }
  }
  return out;
}

/** The rows of one kind's spec. */
export function fieldRows(spec: z.ZodType): FieldRow[] {
  const rows: FieldRow[] = [];
  // Object types met before, by schema: a second field of the same type refers to the first.
  const firstPath = new Map<z.ZodType, string>();
  const walk = (schema: z.ZodType, prefix: string): void => {
    for (const [suffix, child] of children(schema)) {
      const path = prefix + suffix;
      if (suffix.startsWith('[') || suffix === '.<key>') {
        walk(child, path);
        continue;
      }
      const entry = fieldSupport.get(child);
      const support = entry?.support ?? 'supported';
      const applied = support === 'supported' || support === 'deprecated';
      let type = unwrap(child);
      while ((type.def as { type: string }).type === 'array') type = unwrap((type.def as unknown as { element: z.ZodType }).element);
      const earlier = children(type).length > 0 ? firstPath.get(type) : undefined;
      if (earlier !== undefined) {
        rows.push({ path, support, note: entry?.note ?? '', subfields: [], sameAs: earlier });
        continue;
      }
      if (children(type).length > 0) firstPath.set(type, path);
      const subfields = applied ? [] : allPaths(child, '', new Set()).map((p) => p.replace(/^\./, ''));
      rows.push({ path, support, note: entry?.note ?? '', subfields });
      if (applied) walk(child, path);
    }
  };
  walk(spec, 'spec');
  return rows;
}

const WORDS: Readonly<Record<Support, string>> = {
  supported: 'supported',
  deprecated: 'deprecated, applied (warns)',
  warned: 'not applied (warns)',
  'not-applicable': 'not applicable (warns)',
};

function escape(text: string): string {
  return text.replaceAll('|', '\\|');
}

/** The markdown of docs/istio-fields.md. */
export function fieldTableMarkdown(): string {
  const lines: string[] = [
    '# Istio networking fields in proxyless',
    '',
    '<!-- Generated from the config schemas by `npm run docs:fields` (src/config/istio/field-table.ts); do not edit by hand: a test compares this file with the schemas. -->',
    '',
    'Every field of Istio\'s networking API (`networking.istio.io` v1, v1beta1, v1alpha3) and what proxyless does',
    'with it. Every field is validated as Istio validates it, whatever its status, so `proxyless check` refuses what a',
    'cluster would refuse. A field that is not applied loads with a warning naming it and saying what Istio does with it:',
    'nothing is dropped silently.',
    '',
    '- **supported**: applied as Istio applies it (the notes say how, where it matters).',
    '- **deprecated, applied (warns)**: applied, with a warning naming what to write instead.',
    '- **not applied (warns)**: accepted and validated, not applied yet; the warning says what Istio does with it.',
    '- **not applicable (warns)**: about something an in-process mesh has no part in (TCP proxying, TLS passthrough).',
    '',
  ];
  const summary: string[] = ['| kind | fields | supported | deprecated, applied | not applied | not applicable |', '| --- | ---: | ---: | ---: | ---: | ---: |'];
  const sections: string[] = [];
  for (const [kind, spec] of KINDS) {
    const rows = fieldRows(spec);
    const own = rows.filter((r) => r.sameAs === undefined);
    const count = (s: Support): number => own.filter((r) => r.support === s).reduce((n, r) => n + 1 + r.subfields.length, 0);
    const total = own.reduce((n, r) => n + 1 + r.subfields.length, 0);
    summary.push(`| ${kind} | ${total} | ${count('supported')} | ${count('deprecated')} | ${count('warned')} | ${count('not-applicable')} |`);
    sections.push(`## ${kind}`, '', '| field | proxyless | notes |', '| --- | --- | --- |');
    for (const row of rows) {
      const sub = row.sameAs !== undefined
        ? `The same fields as \`${row.sameAs}\`, with the same support.`
        : row.subfields.length > 0 ? `Its fields (${row.subfields.length}): ${row.subfields.map((f) => `\`${f}\``).join(', ')}.` : '';
      const notes = [row.note, sub].filter(Boolean).join('. ');
      sections.push(`| \`${row.path}\` | ${WORDS[row.support]} | ${escape(notes)} |`);
    }
    sections.push('');
  }
  lines.push(
    'The counts include the fields listed inside a row (the fields of a field that is not applied), and count each type once',
    '(a subset\'s `trafficPolicy` has the fields of `spec.trafficPolicy`).',
    '',
    ...summary,
    '',
    ...sections,
  );
  return lines.join('\n');
}
