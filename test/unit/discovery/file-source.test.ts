import { mkdtemp, mkdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoveryUpdate, ServiceQuery } from 'proxyless';
import { EndpointsFileError, file, type FileEndpointsSource } from '../../../src/discovery/file-source.js';
import { parseEndpointsFile } from '../../../src/discovery/internal-endpoints-file.js';
import { InvalidOptionError } from '../../../src/core/errors/index.js';
import { Progress } from '../../helpers/wait.js';

const EXPECTED_SHAPE =
  'a mapping of service names to endpoint lists, e.g. reviews: ["127.0.0.1:9080", { address: 127.0.0.1, port: 9081, weight: 2 }]';

describe('parseEndpointsFile', () => {
  const problems = (text: string) => {
    const result = parseEndpointsFile(text, 'eps.yaml');
    return result.ok ? [] : result.problems;
  };

  it('reads YAML and JSON in the shapes staticEndpoints takes', () => {
    const yaml = parseEndpointsFile(
      'reviews:\n  - 127.0.0.1:9080\n  - { address: "::1", port: 9081, weight: 2, labels: { version: v2 } }\nratings.bookinfo: ["[::1]:80"]\n',
      'eps.yaml',
    );
    expect(yaml).toEqual({
      ok: true,
      catalog: new Map([
        [
          'reviews',
          [
            { address: '127.0.0.1', port: 9080, weight: 1, labels: {} },
            { address: '::1', port: 9081, weight: 2, labels: { version: 'v2' } },
          ],
        ],
        ['ratings.bookinfo', [{ address: '::1', port: 80, weight: 1, labels: {} }]],
      ]),
    });
    const json = parseEndpointsFile('{"reviews": ["127.0.0.1:9080", {"address": "127.0.0.1", "port": 9081}]}', 'eps.json');
    expect(json.ok && [...json.catalog.keys()]).toEqual(['reviews']);
    expect(parseEndpointsFile('{}', 'eps.yaml')).toEqual({ ok: true, catalog: new Map() });
  });

  it('names path:line:column for syntax errors', () => {
    expect(problems('reviews: [127.0.0.1:9080\n')).toEqual([
      'eps.yaml:2:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(problems('reviews: ["127.0.0.1:1"]\nreviews: ["127.0.0.1:2"]\n')).toEqual(['eps.yaml:2:1: Map keys must be unique']);
  });

  it('names the service, the index and the line of the field for shape errors', () => {
    expect(problems('reviews:\n  - 127.0.0.1:9080\n  - { address: 127.0.0.1, port: 0 }\n')).toEqual([
      'eps.yaml:3:33: reviews[1].port: 0 (expected: an integer from 1 to 65535)',
    ]);
    expect(problems('reviews:\n  - address: 127.0.0.1\n    port: 80\n    labels:\n      version: 2\n')).toEqual([
      'eps.yaml:5:16: reviews[0].labels.version: 2 (expected: a string)',
    ]);
    expect(problems('reviews:\n  - 127.0.0.1:1\n  - 127.0.0.1:1\n')).toEqual([
      'eps.yaml:3:5: reviews[1]: "127.0.0.1:1" (expected: each address:port once per service)',
    ]);
    expect(problems('ok: ["127.0.0.1:1"]\nreviews: 127.0.0.1:9080\n')).toEqual([
      'eps.yaml:2:10: reviews: "127.0.0.1:9080" (expected: an array of endpoints)',
    ]);
    expect(problems('bad_name: ["127.0.0.1:1"]\n')).toEqual([
      'eps.yaml:1:1: "bad_name": (expected: a DNS-style service name such as "reviews" or "reviews.bookinfo")',
    ]);
    expect(problems('reviews: ["127.0.0.1:1"]\nReviews: ["127.0.0.1:2"]\n')).toEqual([
      'eps.yaml:2:1: "Reviews": (expected: each service once; it is already listed as "reviews")',
    ]);
    expect(problems('- 127.0.0.1:1\n')).toEqual([`eps.yaml:1:1: a list (expected: ${EXPECTED_SHAPE})`]);
    // Every problem at once, not just the first.
    expect(problems('a: ["x"]\nb: ["127.0.0.1:70000"]\n')).toHaveLength(2);
  });

  it('an empty file is a problem ({} is how to say "no services")', () => {
    const empty = `eps.yaml:1:1: the file is empty (expected: ${EXPECTED_SHAPE}; write {} for no services)`;
    expect(problems('')).toEqual([empty]);
    expect(problems('# nothing yet\n')).toEqual([empty]);
  });
});

describe('file() options', () => {
  it('are validated with field, value and expectation', () => {
    expect(() => file('', { debounce: -1, retryInterval: 1.5, settle: 1e9, delay: 3 } as never)).toThrow(
      new InvalidOptionError('file', [
        'path: "" (expected: the path of a YAML or JSON file)',
        'delay: unknown field (expected one of: debounce, retryInterval, settle)',
        'debounce: -1 (expected: a whole number of milliseconds from 0 to 60000)',
        'retryInterval: 1.5 (expected: a whole number of milliseconds from 10 to 3600000)',
        'settle: 1000000000 (expected: a whole number of milliseconds from 0 to 600000)',
      ]),
    );
  });
});

/** Told of every update and error the sources under test emit. */
const changed = new Progress();

/** Waits until `check` holds, checked again on each update or error (real file events take a few ms). */
function until(what: string, check: () => boolean): Promise<void> {
  return changed.until(what, check);
}

describe('file() source on real files', () => {
  let dir: string;
  let path: string;
  let source: FileEndpointsSource | undefined;
  let errors: Error[];
  let updates: DiscoveryUpdate[];
  const query: ServiceQuery = { host: 'reviews', fqdn: 'reviews.default.svc.cluster.local', names: ['reviews'], port: 80 };
  const ports = () => {
    const last = updates.at(-1);
    return last?.type === 'reset' ? last.endpoints.map((e) => e.port) : last?.type;
  };
  const open = (p = path, retryInterval = 1000) => {
    source = file(p, { debounce: 20, retryInterval });
    source.on('error', (e) => {
      errors.push(e);
      changed.notify();
    });
    source.on('held', () => changed.notify());
    source.watch(query, (u) => {
      updates.push(u);
      changed.notify();
    });
    return source;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxyless-file-'));
    path = join(dir, 'endpoints.yaml');
    errors = [];
    updates = [];
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('loads, then follows in-place edits; an invalid edit keeps the last good set', async () => {
    await writeFile(path, 'reviews: ["127.0.0.1:9080"]\n');
    const s = open();
    await s.ready();
    expect(s.name).toBe(`file(${path})`);
    expect(ports()).toEqual([9080]);
    await writeFile(path, 'reviews: ["127.0.0.1:9080", "127.0.0.1:9081"]\n');
    await until('the edit', () => ports()?.length === 2);
    await writeFile(path, 'reviews:\n  - 127.0.0.1:9080\n  - { address: 127.0.0.1, port: 99999 }\n');
    await until('an error', () => errors.length === 1);
    expect(errors[0]).toBeInstanceOf(EndpointsFileError);
    expect((errors[0] as EndpointsFileError).code).toBe('PROXYLESS_ERR_ENDPOINTS_FILE');
    expect(errors[0]!.message).toBe(
      `endpoints file ${path} is invalid; keeping the last good version (1 service):\n` +
        `  ${path}:3:33: reviews[1].port: 99999 (expected: an integer from 1 to 65535)`,
    );
    expect(ports()).toEqual([9080, 9081]);
    expect(s.state().lastError).toBe(errors[0]);
  });

  it('sees a file replaced by rename, and one deleted and created again', async () => {
    await writeFile(path, 'reviews: ["127.0.0.1:9080"]\n');
    const s = open();
    await s.ready();
    await writeFile(join(dir, '.endpoints.yaml.tmp'), 'reviews: ["127.0.0.1:9082"]\n');
    await rename(join(dir, '.endpoints.yaml.tmp'), path);
    await until('the renamed file', () => ports()?.[0] === 9082);
    await unlink(path);
    await until('the missing-file error', () => errors.length === 1);
    expect(errors[0]!.message).toBe(`endpoints file ${path} does not exist; keeping the last good version (1 service)`);
    expect(ports()).toEqual([9082]);
    await writeFile(path, 'reviews: ["127.0.0.1:9083"]\n');
    await until('the recreated file', () => ports()?.[0] === 9083);
    // Back to the same content as a known version is still applied after a deletion.
    await unlink(path);
    await until('the second missing-file error', () => errors.length === 2);
    s.watch({ ...query, host: 'ratings', fqdn: 'ratings.default.svc.cluster.local', names: ['ratings'] }, () => changed.notify());
    await writeFile(path, 'reviews: ["127.0.0.1:9083"]\nratings: ["127.0.0.1:1"]\n');
    await until('two services', () => s.state().services === 2);
  });

  it('a missing file at start: ready() stays pending, errors are emitted, and it loads once a valid version appears', async () => {
    const s = open();
    let ready = false;
    void s.ready().then(() => {
      ready = true;
      changed.notify();
    });
    await until('the missing-file error', () => errors.length === 1);
    expect(errors[0]!.message).toBe(
      `endpoints file ${path} does not exist; its services wait until a valid version appears (watching endpoints.yaml in ${dir})`,
    );
    expect(updates).toEqual([]); // watches wait for the first load
    await writeFile(path, 'reviews: [oops\n');
    await until('the syntax error', () => errors.length === 2);
    expect((errors[1] as EndpointsFileError).problems[0]).toMatch(new RegExp(`^${path}:2:1: `));
    expect(ready).toBe(false);
    await writeFile(path, '{ reviews: ["127.0.0.1:9080"] }\n');
    await until('ready', () => ready);
    expect(ports()).toEqual([9080]);
  });

  it('a missing directory at start is watched for, and a removed one too', async () => {
    const nested = join(dir, 'later', 'endpoints.json');
    const s = open(nested, 20);
    await until('the missing-file error', () => errors.length === 1);
    await mkdir(join(dir, 'later'));
    await writeFile(nested, '{"reviews": ["127.0.0.1:9080"]}');
    await s.ready();
    expect(ports()).toEqual([9080]);
    await rm(join(dir, 'later'), { recursive: true });
    await until('the missing-file error', () => errors.length === 2);
    await mkdir(join(dir, 'later'));
    await writeFile(nested, '{"reviews": ["127.0.0.1:9081"]}');
    await until('the file in the new directory', () => ports()?.[0] === 9081);
  });

  it('a half-written version is held back until it settles: never ":337" for ":33742", never a dropped service', async () => {
    await writeFile(path, 'reviews: ["127.0.0.1:33742"]\nratings: ["127.0.0.1:9080"]\nratings-v2: ["127.0.0.1:9081"]\n');
    const s = open();
    await s.ready();
    const seen: number[][] = [];
    s.watch(query, (u) => {
      if (u.type === 'reset') seen.push(u.endpoints.map((e) => e.port));
      changed.notify();
    });
    // A writer that truncates, writes part of the file and pauses longer than the debounce.
    await writeFile(path, 'reviews: ["127.0.0.1:337');
    await until('the partial version to be read and held', () => s.state().held !== undefined);
    expect(s.state().held).toBe('it does not parse (a write may be under way): used if unchanged after 1000 ms');
    await writeFile(path, 'reviews: ["127.0.0.1:337"]\n');
    await until('the cut-off version to be held', () => s.state().held?.startsWith('it has 1 of the 3 services in force') === true);
    await writeFile(path, 'reviews: ["127.0.0.1:33742", "127.0.0.1:33743"]\nratings: ["127.0.0.1:9080"]\nratings-v2: ["127.0.0.1:9081"]\n');
    await until('the finished version', () => seen.length === 2);
    expect(seen).toEqual([[33742], [33742, 33743]]);
    expect(s.state()).toMatchObject({ held: undefined, services: 3 });
    expect(errors).toEqual([]);
    // A real shrink is applied once it has stayed unchanged for the settle time.
    await writeFile(path, 'reviews: ["127.0.0.1:33742"]\n');
    await until('the shrink', () => s.state().services === 1);
    expect(seen.at(-1)).toEqual([33742]);
  });

  it('a service removed from the file is missing; close() stops watching', async () => {
    await writeFile(path, 'reviews: ["127.0.0.1:9080"]\nratings: ["127.0.0.1:1"]\n');
    const s = open();
    await s.ready();
    await writeFile(path, 'ratings: ["127.0.0.1:1"]\n');
    await until('reviews gone', () => ports() === 'missing');
    await s.close();
    const count = updates.length;
    // A second source on the same file, with twice the debounce, is the clock: when it has
    // seen the edit, the closed one (same file event, shorter debounce) would have too.
    const witness = file(path, { debounce: 40 });
    const seen = new Promise<DiscoveryUpdate>((resolve) => witness.watch(query, (u) => u.type === 'reset' && resolve(u)));
    await witness.ready();
    await writeFile(path, 'reviews: ["127.0.0.1:9080"]\n');
    try {
      expect(await seen).toMatchObject({ type: 'reset', endpoints: [{ port: 9080 }] });
    } finally {
      await witness.close();
    }
    expect(updates).toHaveLength(count);
  });
});
