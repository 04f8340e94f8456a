// A canary shifted by editing the YAML file while traffic runs: no failed request, the
// new split applies, and an invalid edit keeps the last good config.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, InvalidConfigError, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll } from '../../helpers/backends.js';
import { reviewsSubsets, startBookinfo, weightedReviews, type Bookinfo } from './bookinfo.js';

/** Writes atomically (write + rename), as editors and config management tools do. */
function writeConfig(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function nextEvent(mesh: Mesh, event: 'configApplied' | 'configError', timeoutMs = 5000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    mesh.once(event, (...args: unknown[]) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

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
    let stop = false;
    let failures = 0;
    const seen: string[] = [];
    const traffic = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!stop) {
          try {
            const res = await request('http://reviews/', { dispatcher: mesh.dispatcher });
            seen.push(await res.body.text());
            if (res.statusCode !== 200) failures++;
          } catch {
            failures++;
          }
        }
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    expect(new Set(seen)).toEqual(new Set(['reviews-v1']));

    let applied = nextEvent(mesh, 'configApplied');
    writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([50, 50, 0])}`);
    await applied;
    // Requests routed before the change may still be answering: let them finish.
    await new Promise((r) => setTimeout(r, 50));
    seen.length = 0;
    await new Promise((r) => setTimeout(r, 300));
    const v2Share = seen.filter((s) => s === 'reviews-v2').length / seen.length;
    expect(v2Share).toBeGreaterThan(0.35);
    expect(v2Share).toBeLessThan(0.65);

    applied = nextEvent(mesh, 'configApplied');
    writeConfig(file, `${reviewsSubsets}---\n${weightedReviews([0, 100, 0])}`);
    await applied;
    // Requests routed before the change may still be answering: let them finish.
    await new Promise((r) => setTimeout(r, 50));
    seen.length = 0;
    await new Promise((r) => setTimeout(r, 150));
    expect(new Set(seen)).toEqual(new Set(['reviews-v2']));

    stop = true;
    await traffic;
    expect(failures).toBe(0);
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
    expect(error.message).toContain(`VirtualService/reviews (${file}#2): spec.http[0].route[2].weight: "lots" (expected: a number)`);
    expect(source).toBe(`file(${file})`);
    expect(await get()).toBe('reviews-v3');

    failed = nextEvent(mesh, 'configError');
    writeConfig(file, 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: x\n');
    [error] = (await failed) as [InvalidConfigError, string];
    expect(error.message).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: document 1:`));
    expect(await get()).toBe('reviews-v3');
    await mesh.close();
  });

  it('loads a directory of files, in name order, and mesh.applyConfig replaces inline config atomically', async () => {
    const sub = mkdtempSync(join(dir, 'd-'));
    writeConfig(join(sub, '10-rules.yaml'), reviewsSubsets);
    writeConfig(join(sub, '20-routes.yml'), weightedReviews([0, 100, 0]));
    writeConfig(join(sub, 'README.md'), 'not config');
    const mesh = createMesh({ discovery: [staticEndpoints(app.endpoints)], config: sub });
    expect(await (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text()).toBe('reviews-v2');
    expect(() => mesh.applyConfig('kind: VirtualService\n')).toThrow(InvalidConfigError);
    expect(await (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text()).toBe('reviews-v2');
    await mesh.close();
  });

  it('a file that does not exist fails createMesh with its path', () => {
    expect(() => createMesh({ config: join(dir, 'missing.yaml') })).toThrow(/missing\.yaml: no such file or directory/);
  });
});
