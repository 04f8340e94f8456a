import { mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh } from 'proxyless';
import { file } from '../../src/discovery/file-source.js';
import { closeAll, startBackends, type Backend } from '../helpers/backends.js';
import { Progress } from '../helpers/wait.js';

/** Told of every answer and discovery error in these tests; `until` re-checks on each. */
const changed = new Progress();

function until(what: string, check: () => boolean): Promise<void> {
  return changed.until(what, check);
}

describe('file(): a watched endpoints file edited while a mesh sends traffic', () => {
  let backends: Backend[];
  let dir: string;
  beforeAll(async () => {
    backends = await startBackends(3, 'f', 1);
    dir = await mkdtemp(join(tmpdir(), 'proxyless-file-it-'));
  });
  afterAll(async () => {
    await closeAll(backends);
    await rm(dir, { recursive: true, force: true });
  });

  it('follows edits, renames, deletion and re-creation; invalid versions keep traffic flowing and name the place', async () => {
    const path = join(dir, 'endpoints.yaml');
    const [b0, b1, b2] = backends as [Backend, Backend, Backend];
    const yaml = (...list: Backend[]) => `# test endpoints\nreviews:\n${list.map((b) => `  - ${b.address}\n`).join('')}`;
    await writeFile(path, yaml(b0, b1));
    const source = file(path, { debounce: 30 });
    const mesh = createMesh({
      discovery: [source],
      config: [
        {
          apiVersion: 'networking.istio.io/v1',
          kind: 'DestinationRule',
          metadata: { name: 'reviews' },
          spec: { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } },
        },
      ],
    });
    const errors: Error[] = [];
    mesh.on('discoveryError', (error, name) => {
      expect(name).toBe(`file(${path})`);
      errors.push(error);
      changed.notify();
    });

    let stop = false;
    const failures: unknown[] = [];
    const seen: string[] = [];
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const res = await request('http://reviews/', { dispatcher: mesh.dispatcher });
          const body = await res.body.text();
          if (res.statusCode === 200) seen.push(body);
          else failures.push(new Error(`status ${res.statusCode}`));
        } catch (error) {
          failures.push(error);
        }
        changed.notify();
      }
    };
    const workers = Promise.all(Array.from({ length: 8 }, worker));
    /** Waits until the last 30 answers, all given after this call, came from exactly `ids`. */
    const servedBy = async (ids: string[]) => {
      const from = seen.length;
      await until(`traffic to exactly ${ids.join(', ')}`, () => {
        const recent = seen.slice(Math.max(from, seen.length - 30));
        return recent.length === 30 && new Set(recent).size === ids.length && ids.every((id) => recent.includes(id));
      });
    };

    try {
      await servedBy(['f0', 'f1']);

      // An edit in place adds an endpoint.
      await writeFile(path, yaml(b0, b1, b2));
      await servedBy(['f0', 'f1', 'f2']);

      // Broken YAML: an error with path:line:column; the last good set keeps serving.
      await writeFile(path, `reviews:\n  - ${b0.address}\n  - [${b1.address}\n`);
      await until('the syntax error', () => errors.length === 1);
      expect(errors[0]!.message).toMatch(new RegExp(`^endpoints file ${path} is invalid; keeping the last good version \\(1 service\\):\\n  ${path}:\\d+:\\d+: `));
      await servedBy(['f0', 'f1', 'f2']);

      // A bad endpoint: the error names the service, the index and the line.
      await writeFile(path, `reviews:\n  - ${b0.address}\n  - { address: 127.0.0.1, port: 0 }\n`);
      await until('the shape error', () => errors.length === 2);
      expect(errors[1]!.message).toContain(`${path}:3:33: reviews[1].port: 0 (expected: an integer from 1 to 65535)`);
      await servedBy(['f0', 'f1', 'f2']);

      // Replaced by rename, as editors and deploy tools do.
      await writeFile(join(dir, 'endpoints.yaml.new'), yaml(b2));
      await rename(join(dir, 'endpoints.yaml.new'), path);
      await servedBy(['f2']);

      // Deleted: an error, the last good set stays; created again: followed.
      await unlink(path);
      await until('the missing-file error', () => errors.length === 3);
      expect(errors[2]!.message).toBe(`endpoints file ${path} does not exist; keeping the last good version (1 service)`);
      await servedBy(['f2']);
      await writeFile(path, yaml(b0));
      await servedBy(['f0']);
    } finally {
      stop = true;
      await workers;
    }
    expect(failures).toEqual([]);
    expect(errors).toHaveLength(3);
    await mesh.close();
  });

  it('a file missing at start: requests wait for it (up to discoveryTimeout) and succeed once it appears', async () => {
    const path = join(dir, 'later.yaml');
    const mesh = createMesh({ discovery: [file(path, { debounce: 10 })], discoveryTimeout: 8000 });
    const errors: Error[] = [];
    mesh.on('discoveryError', (error) => {
      errors.push(error);
      changed.notify();
    });
    const pending = request('http://reviews/', { dispatcher: mesh.dispatcher });
    await until('the missing-file error', () => errors.length === 1);
    await writeFile(path, `reviews: ["${backends[1]!.address}"]\n`);
    const res = await pending;
    expect(await res.body.text()).toBe('f1');
    await mesh.close();
  });
});
