// The etcd example (examples/etcd): three replicas register in a real etcd, the mesh finds
// them, one deregisters and gets no request afterwards; no request fails.
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinaries } from '../helpers/system-binaries.js';
import { startExample, type RunningExample } from './run-example.js';

const { skip, note } = requireBinaries([{ bin: process.env.ETCD_BIN ?? '/usr/bin/etcd', pkg: 'etcd-server' }]);

describe.skipIf(skip)(`examples/etcd${note}`, () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('discovers the three registered replicas, then sends nothing to the one that deregistered', async () => {
    run = startExample('examples/etcd/main.ts');
    const exit = await run.exit(90_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    for (const name of ['reviews-1', 'reviews-2', 'reviews-3']) {
      expect(stdout).toMatch(new RegExp(`^${name} registered as /services/reviews/${name} \\(127\\.0\\.0\\.1:\\d+\\)$`, 'm'));
    }
    const answers = (label: string): Map<string, number> => {
      const line = new RegExp(`^${label}: (.*)$`, 'm').exec(stdout);
      expect(line, stdout).not.toBeNull();
      return new Map(line![1]!.split(', ').map((part) => [part.replace(/ \d+$/, ''), Number(/ (\d+)$/.exec(part)![1])]));
    };
    const before = answers('before');
    const after = answers('after');
    // Every request answered by a replica (a failure would show as "failed (...)").
    expect([...before.keys()].every((k) => /^reviews-[123]$/.test(k)), stdout).toBe(true);
    expect([...before.values()].reduce((a, b) => a + b, 0)).toBe(30);
    expect(stdout).toContain('mesh.services(): 3 endpoints of reviews\nreviews-3 deregistered');
    expect(stdout).toContain('reviews-3 deregistered (registration.close())\nmesh.services(): 2 endpoints of reviews\n');
    expect([...after.keys()].sort()).toEqual(['reviews-1', 'reviews-2']);
    expect([...after.values()].reduce((a, b) => a + b, 0)).toBe(30);
  }, 120_000);
});
