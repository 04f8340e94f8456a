import { describe, expect, it } from 'vitest';
import type { MeshService } from '../../../src/mesh/mesh-service.js';
import { ServiceTable } from '../../../src/mesh/service-table.js';

/** Stands in for a MeshService: the table reads only these members (no sockets involved). */
class FakeService {
  reads = 0;
  closed = false;
  #inFlight: number;
  constructor(
    inFlight: number,
    readonly lastUsed: number,
  ) {
    this.#inFlight = inFlight;
  }
  get inFlight(): number {
    this.reads++;
    return this.#inFlight;
  }
  set busy(value: boolean) {
    this.#inFlight = value ? 1 : 0;
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const table = (max: number, evicted: FakeService[] = []) => new ServiceTable(max, (s) => void evicted.push(s as unknown as FakeService));
const add = (t: ServiceTable, key: string, s: FakeService): string[] => {
  const evicted = t.makeRoom();
  t.add(key, s as unknown as MeshService);
  return evicted;
};

describe('ServiceTable', () => {
  it('evicts the least recently used idle services, down to 90 % of the bound, closing them', () => {
    const heard: FakeService[] = [];
    const t = table(10, heard);
    const services = Array.from({ length: 10 }, (_, i) => new FakeService(i === 0 ? 1 : 0, i));
    services.forEach((s, i) => add(t, `s${i}`, s));
    // s0 is the least recently used but busy: s1 goes instead (10 -> 9, then the new one).
    expect(add(t, 'new', new FakeService(0, 100))).toEqual(['s1']);
    expect(t.size).toBe(10);
    expect(heard).toEqual([services[1]]);
    expect(services[1]!.closed).toBe(true);
    expect(t.stats()).toEqual({ services: 10, maxServices: 10, busy: 1, evicted: 1 });
  });

  it('a table held full by busy services is scanned once per 10 % of growth, not once per new service', () => {
    const t = table(100);
    const busy = Array.from({ length: 100 }, (_, i) => new FakeService(1, i));
    busy.forEach((s, i) => add(t, `b${i}`, s));
    const reads = () => busy.reduce((n, s) => n + s.reads, 0);
    expect(add(t, 'x0', new FakeService(1, 200))).toEqual([]);
    const afterFirstScan = reads();
    expect(afterFirstScan).toBe(100);
    for (let i = 1; i < 10; i++) expect(add(t, `x${i}`, new FakeService(1, 200 + i))).toEqual([]);
    expect(reads()).toBe(afterFirstScan); // no scan while the table grows by less than 10 %
    // Requests end meanwhile: the next scan evicts down to 90 % of the bound.
    for (const s of busy) s.busy = false;
    const evicted = add(t, 'x10', new FakeService(1, 300));
    expect(evicted).toHaveLength(110 - 90);
    expect(evicted[0]).toBe('b0');
    expect(t.size).toBe(91);
  });
});
