// The DNS example (examples/dns): the mesh discovers three replicas from a real dnsmasq's
// SRV records, with the records' weights, and a ROUND_ROBIN rule splits requests by them.
import { afterEach, describe, expect, it } from 'vitest';
import { requireBinaries } from '../helpers/system-binaries.js';
import { startExample, type RunningExample } from './run-example.js';

const { skip, note } = requireBinaries([{ bin: 'dnsmasq', pkg: 'dnsmasq-base' }]);

describe.skipIf(skip)(`examples/dns${note}`, () => {
  let run: RunningExample | undefined;
  afterEach(() => run?.kill());

  it('discovers the replicas from SRV records with their weights and splits 60 requests by them', async () => {
    run = startExample('examples/dns/main.ts');
    const exit = await run.exit(60_000);
    const stdout = run.stdout();
    expect(exit, stdout + run.stderr()).toMatchObject({ code: 0, signal: null });
    expect(run.stderr()).toBe('');

    // The weights dnsmasq serves, by port.
    const srv = new Map([...stdout.matchAll(/^ {2}SRV 0 (\d) (\d+) reviews-\d\./gm)].map((m) => [m[2]!, Number(m[1])]));
    expect([...srv.values()].sort()).toEqual([1, 2, 3]);
    // The mesh's endpoints carry the same weights.
    const endpoints = /^mesh\.services\(\): reviews\.shop\.svc\.cluster\.local, endpoints (.*)$/m.exec(stdout);
    expect(endpoints, stdout).not.toBeNull();
    const meshWeights = new Map([...endpoints![1]!.matchAll(/127\.0\.0\.1:(\d+) weight (\d)/g)].map((m) => [m[1]!, Number(m[2])]));
    expect(meshWeights).toEqual(srv);
    // Requests per replica follow the weights. ROUND_ROBIN is exact over whole rounds of 6,
    // unless a background refresh (TTL 5 s, on a slow machine) restarts a round: ±2.
    const counts = [...stdout.matchAll(/^ {2}reviews-\d \(port (\d+)\): (\d+)$/gm)].map((m) => ({ weight: srv.get(m[1]!)!, count: Number(m[2]) }));
    expect(counts.reduce((sum, c) => sum + c.count, 0)).toBe(60);
    for (const c of counts) expect(Math.abs(c.count - 10 * c.weight), JSON.stringify(counts)).toBeLessThanOrEqual(2);
    expect(stdout).toMatch(/^mesh\.sources\(\): dns\(127\.0\.0\.1:\d+\) ready=true$/m);
  }, 90_000);
});
