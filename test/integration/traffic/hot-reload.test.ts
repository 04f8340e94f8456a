// Config changed while traffic runs: a canary shifted by editing the watched YAML file,
// and inline config swapped with mesh.applyConfig. No request fails, the new routing
// applies to every request routed after the change, and an invalid change keeps the last
// good config (an event for files, InvalidConfigError from applyConfig).
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, InvalidConfigError, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { nextEvent, Progress } from '../../helpers/wait.js';
import { reviewsSubsets, reviewsVirtualService, startBookinfo, weightedReviews, type Bookinfo } from './bookinfo.js';

/** Writes atomically (write + rename), as editors and config management tools do. */
function writeConfig(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

/** One answer: which config version was in force when the request was sent, and what answered. */
interface Answer {
  readonly version: number;
  readonly body: string;
}

/**
 * 8 callers sending GET `url` in a loop until `stop()`. Each answer is tagged with the
 * config version in force when its request was sent (the count of configApplied events
 * so far), so a request routed before a change and answered after it is never taken
 * for the new routing.
 */
function traffic(mesh: Mesh, url: string) {
  let version = 0;
  const onApplied = (): void => void version++;
  mesh.on('configApplied', onApplied);
  const answers: Answer[] = [];
  const failures: unknown[] = [];
  const progress = new Progress();
  let stopped = false;
  const workers = Promise.all(
    Array.from({ length: 8 }, async () => {
      while (!stopped) {
        const sentAt = version;
        try {
          const res = await request(url, { dispatcher: mesh.dispatcher });
          const body = await res.body.text();
          if (res.statusCode === 200) answers.push({ version: sentAt, body });
          else failures.push(new Error(`status ${res.statusCode}: ${body}`));
        } catch (error) {
          failures.push(error);
        }
        progress.notify();
      }
    }),
  );
  const of = (v: number): string[] => answers.filter((a) => a.version === v).map((a) => a.body);
  return {
    failures,
    /** Bodies of the answers to requests sent under config version `v`. */
    of,
    /** Resolves once `count` requests sent under config version `v` were answered. */
    answered: (v: number, count: number) => progress.until(`${count} answers under config version ${v}`, () => of(v).length >= count || failures.length > 0),
    async stop(): Promise<void> {
      stopped = true;
      await workers;
      mesh.off('configApplied', onApplied);
    },
  };
}

const share = (bodies: string[], id: string): number => bodies.filter((b) => b === id).length / bodies.length;

describe('hot reload from a watched file', () => {
  let app: Bookinfo;
  let dir: string;
  beforeAll(async () => {
    app = await startBookinfo();
    dir = mkdtempSync(join(tmpdir(), 'proxyless-reload-'));
  });
  afterAll(async () => {
    await closeAll(app.all);
    rmSync(dir, { recursive: true, force: true });
  });

  it('shifts a canary 100/0 → 50/50 → 0/100 while traffic runs, losing nothing', async () => {
    const file = join(dir, 'mesh.yaml');
    writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([100, 0, 0])}`);
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: file });
    const load = traffic(mesh, 'http://reviews/');
    try {
      await load.answered(0, 40);
      expect(new Set(load.of(0))).toEqual(new Set(['reviews-v1']));

      let applied = nextEvent(mesh, 'configApplied');
      writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([50, 50, 0])}`);
      await applied;
      // 400 draws of a 50/50 split: the share is within 0.35..0.65 but for 1 run in 10^9.
      await load.answered(1, 400);
      expect(new Set(load.of(1))).toEqual(new Set(['reviews-v1', 'reviews-v2']));
      expect(share(load.of(1), 'reviews-v2')).toBeGreaterThan(0.35);
      expect(share(load.of(1), 'reviews-v2')).toBeLessThan(0.65);

      applied = nextEvent(mesh, 'configApplied');
      writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([0, 100, 0])}`);
      await applied;
      await load.answered(2, 40);
      expect(new Set(load.of(2))).toEqual(new Set(['reviews-v2']));
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    await mesh.close();
  });

  it('an invalid edit keeps the last good config and reports the file, document and field', async () => {
    const file = join(dir, 'invalid.yaml');
    writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([0, 0, 100])}`);
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: file });
    const get = async () => (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();
    expect(await get()).toBe('reviews-v3');

    let failed = nextEvent(mesh, 'configError');
    writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([0, 0, 100]).replace('weight: 100', 'weight: lots')}`);
    let [error, source] = (await failed) as [InvalidConfigError, string];
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error.message).toContain(`VirtualService/reviews (${file}#2): spec.http[0].route[2].weight: "lots" (expected: an integer)`);
    expect(source).toBe(`file(${file})`);
    expect(await get()).toBe('reviews-v3');

    failed = nextEvent(mesh, 'configError');
    writeConfig(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x\n');
    [error] = (await failed) as [InvalidConfigError, string];
    expect(error.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: document 1:`));
    expect(await get()).toBe('reviews-v3');
    await mesh.close();
  });

  it('loads a directory of YAML/JSON files in name order (a later rule\'s subset of the same name is ignored, as Istio merges rules) and ignores other files', async () => {
    const sub = mkdtempSync(join(dir, 'd-'));
    // Written last-first, so the directory's own order is not name order.
    writeConfig(join(sub, 'README.md'), 'not config');
    writeConfig(join(sub, 'notes.txt'), 'kind: [unterminated');
    // A later rule for the same host that maps subset v2 to the v3 replica: Istio merges the
    // rules and keeps the first definition of a subset name.
    writeConfig(join(sub, '30-late-rule.json'), JSON.stringify({
      apiVersion: 'networking.istio.io/v1',
      kind: 'DestinationRule',
      metadata: { name: 'reviews-late' },
      spec: { host: 'reviews', subsets: [{ name: 'v2', labels: { version: 'v3' } }] },
    }));
    writeConfig(join(sub, '20-routes.yml'), weightedReviews([0, 100, 0]));
    writeConfig(join(sub, '10-rules.yaml'), reviewsSubsets);
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: sub });
    for (let i = 0; i < 5; i++) expect(await (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text()).toBe('reviews-v2');
    expect(mesh.warnings).toEqual([
      expect.stringMatching(/^DestinationRule\/reviews-late \(.*30-late-rule\.json#1\): subset "v2" of host reviews\.default\.svc\.cluster\.local is already defined by DestinationRule\/reviews \(.*10-rules\.yaml#1\)/),
    ]);
    await mesh.close();
  });

  it('mesh.applyConfig swaps the inline config under traffic: new routing for every later request, none failed; the old resources are gone', async () => {
    // Inline config 1: reviews all to v1, and a VirtualService sending host ratings to reviews v1 too.
    const ratingsToReviews = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route: [{ destination: { host: reviews, subset: v1 } }]
`;
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: [reviewsSubsets, weightedReviews([100, 0, 0]), ratingsToReviews] });
    const get = async (url: string) => (await request(url, { dispatcher: mesh.dispatcher })).body.text();
    expect(await get('http://ratings/')).toBe('reviews-v1');
    const applied: unknown[] = [];
    mesh.on('configApplied', (info) => applied.push(info));
    const load = traffic(mesh, 'http://reviews/');
    try {
      await load.answered(0, 40);
      expect(new Set(load.of(0))).toEqual(new Set(['reviews-v1']));

      // Config 2 renames the subsets and routes to the new name in the same call: a request
      // that saw the new routes with the old subsets (or the reverse) would find no endpoint.
      const canaryRule = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: canary, labels: { version: v3 } }
`;
      mesh.applyConfig([canaryRule, reviewsVirtualService('  - route: [{ destination: { host: reviews, subset: canary } }]\n')]);
      expect(applied).toEqual([{ source: 'applyConfig', resources: 2, warnings: [] }]);
      await load.answered(1, 40);
      expect(new Set(load.of(1))).toEqual(new Set(['reviews-v3']));
    } finally {
      await load.stop();
    }
    expect(load.failures).toEqual([]);
    // Replaced, not merged: the ratings VirtualService of config 1 no longer applies.
    expect(await get('http://ratings/')).toBe('ratings');
    await mesh.close();
  });

  it('an invalid mesh.applyConfig throws InvalidConfigError naming the field, and the last good config stays in force', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: [reviewsSubsets, weightedReviews([0, 0, 100])] });
    const get = async () => (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();
    expect(await get()).toBe('reviews-v3');
    const applied: unknown[] = [];
    mesh.on('configApplied', (info) => applied.push(info));

    const invalid = weightedReviews([100, 0, 0]).replace('weight: 100', 'weight: lots');
    let thrown: unknown;
    try {
      mesh.applyConfig([reviewsSubsets, invalid]);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidConfigError);
    expect((thrown as InvalidConfigError).message).toContain('VirtualService/reviews (config[1]#1): spec.http[0].route[0].weight: "lots" (expected: an integer)');
    expect(() => mesh.applyConfig('kind: VirtualService\n')).toThrow(InvalidConfigError);
    expect(applied).toEqual([]);
    for (let i = 0; i < 5; i++) expect(await get()).toBe('reviews-v3');
    await mesh.close();
  });

  it('a file that does not exist fails createMesh with its path', () => {
    expect(() => createMesh({ config: join(dir, 'missing.yaml') })).toThrow(/missing\.yaml: no such file or directory/);
  });
});
