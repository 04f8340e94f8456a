import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InvalidConfigError } from '../../../src/core/errors/index.js';
import { parseMeshYaml } from '../../../src/config/parse-mesh-yaml.js';
import { splitDocuments, YamlDocumentCache } from '../../../src/config/yaml-document-cache.js';

const resource = fc.record({
  apiVersion: fc.constant('networking.istio.io/v1'),
  kind: fc.constantFrom('VirtualService', 'DestinationRule', 'ServiceEntry'),
  metadata: fc.record({ name: fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/) }),
  spec: fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string(), fc.integer(), fc.array(fc.string(), { maxLength: 3 })), { maxKeys: 3 }),
});
/** A document as people write them: plain, with comments, a `---` with a comment, a List, or empty. */
// Written as YAML 1.1, the way mesh YAML is read: a YAML 1.2 writer leaves `y` or `01`
// plain, which YAML 1.1 reads as true or 1, so two such keys of one map collide.
const yaml11 = (value: unknown): string => stringify(value, { version: '1.1' });
const document = fc.oneof(
  resource.map((r) => yaml11(r)),
  resource.map((r) => `# a comment\n${yaml11(r)}# trailing\n`),
  fc.array(resource, { maxLength: 2 }).map((items) => yaml11({ apiVersion: 'v1', kind: 'List', items })),
  fc.constant('# nothing here\n'),
  fc.constant(''),
);
const file = fc.tuple(fc.array(document, { maxLength: 6 }), fc.constantFrom('---\n', '--- # next\n', '---\n\n')).map(([docs, marker]) => docs.join(marker));

describe('YamlDocumentCache', () => {
  it('gives exactly what parsing the whole text gives, before and after edits', () => {
    fc.assert(
      fc.property(file, file, (before, after) => {
        const cache = new YamlDocumentCache();
        // The same resources, or the same error.
        const outcome = (parse: () => unknown): unknown => {
          try {
            return parse();
          } catch (error) {
            return `error: ${(error as Error).message}`;
          }
        };
        expect(outcome(() => cache.parse(before, 'f.yaml'))).toEqual(outcome(() => parseMeshYaml(before, 'f.yaml')));
        expect(outcome(() => cache.parse(after, 'f.yaml'))).toEqual(outcome(() => parseMeshYaml(after, 'f.yaml')));
      }),
    );
  });

  it('parses only the documents that changed', () => {
    const docs = Array.from({ length: 4 }, (_, i) => stringify({ apiVersion: 'v1', kind: 'VirtualService', metadata: { name: `r${i}` } }));
    const cache = new YamlDocumentCache();
    const first = cache.parse(docs.join('---\n'), 'f.yaml');
    docs[2] = docs[2]!.replace('r2', 'r2-edited');
    const second = cache.parse(docs.join('---\n'), 'f.yaml');
    // Unchanged documents are the same objects (not parsed again); the edited one is new.
    expect(second.map((r, i) => r === first[i])).toEqual([true, true, false, true]);
    expect((second[2] as { metadata: { name: string } }).metadata.name).toBe('r2-edited');
    expect(cache.size).toBe(4);
  });

  it('reports syntax errors with the whole file\'s line numbers, and keeps its cache', () => {
    const good = 'kind: A\n---\nkind: B\n';
    const cache = new YamlDocumentCache();
    const first = cache.parse(good, 'f.yaml');
    const bad = `${good}---\nkind: C\nmetadata: { name: x\n`;
    let thrown: unknown;
    try {
      cache.parse(bad, 'f.yaml');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidConfigError);
    expect(() => parseMeshYaml(bad, 'f.yaml')).toThrow((thrown as Error).message);
    expect((thrown as Error).message).toMatch(/f\.yaml:[67]:\d+: document 3:/);
    expect(cache.parse(good, 'f.yaml')[0]).toBe(first[0]);
  });

  it('does not cut where YAML directives or end markers make pieces depend on each other', () => {
    expect(splitDocuments('%YAML 1.2\n---\na: 1\n')).toBeUndefined();
    expect(splitDocuments('a: 1\n...\n---\nb: 2\n')).toBeUndefined();
    expect(splitDocuments('a: 1\n---\nb: "---"\n--- |\n  text\n')).toEqual(['a: 1\n', '---\nb: "---"\n', '--- |\n  text\n']);
    expect(splitDocuments('a: ---x\n----\n')).toEqual(['a: ---x\n----\n']);
  });
});
