// docs/istio-fields.md is generated from the schemas' support marks: this test fails when
// a schema changes what a field does and the document was not regenerated
// (`npm run docs:fields`), so the README's field table cannot drift from the loader.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fieldRows, fieldTableMarkdown } from '../../../src/config/istio/field-table.js';
import { destinationRuleSpecSchema } from '../../../src/config/istio/destination-rule.js';
import { serviceEntrySpecSchema } from '../../../src/config/istio/service-entry.js';
import { virtualServiceSpecSchema } from '../../../src/config/istio/virtual-service.js';

describe('docs/istio-fields.md', () => {
  it('is what the schemas generate (run `npm run docs:fields` after changing a field)', () => {
    const committed = readFileSync(new URL('../../../docs/istio-fields.md', import.meta.url), 'utf8');
    expect(committed).toBe(`${fieldTableMarkdown()}\n`);
  });

  it('lists the fields of the three kinds, each with a support and a note when it is not applied', () => {
    for (const spec of [virtualServiceSpecSchema, destinationRuleSpecSchema, serviceEntrySpecSchema]) {
      const rows = fieldRows(spec);
      expect(new Set(rows.map((r) => r.path)).size).toBe(rows.length);
      for (const row of rows.filter((r) => r.support !== 'supported')) expect(row.note, row.path).not.toBe('');
    }
    const paths = fieldRows(virtualServiceSpecSchema).map((r) => r.path);
    // A sample of the API, top to bottom: the table walks every level.
    for (const path of ['spec.hosts', 'spec.http[].match[].withoutHeaders', 'spec.http[].retries.backoff', 'spec.http[].corsPolicy', 'spec.tcp', 'spec.tls', 'spec.exportTo']) {
      expect(paths).toContain(path);
    }
  });
});
