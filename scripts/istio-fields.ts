// Writes docs/istio-fields.md from the config schemas (see src/config/istio/field-table.ts).
// Run with `npm run docs:fields` after changing what a field does; a test fails until then.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fieldTableMarkdown } from '../src/config/istio/field-table.js';

const target = fileURLToPath(new URL('../docs/istio-fields.md', import.meta.url));
writeFileSync(target, `${fieldTableMarkdown()}\n`);
console.log(`wrote ${target}`);
