import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightSet } from '../../../src/inbound/in-flight.js';

describe('InFlightSet (the requests in flight, O(1) without hashing)', () => {
  it('holds exactly what a Set would after any sequence of adds and deletes (deleting a non-member, twice, or after a swap included)', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ add: fc.boolean(), which: fc.integer({ min: 0, max: 15 }) }), { maxLength: 200 }), (ops) => {
        const entries = Array.from({ length: 16 }, (_, id) => ({ id, inFlightSlot: -1 }));
        const set = new InFlightSet<(typeof entries)[number]>();
        const reference = new Set<(typeof entries)[number]>();
        for (const { add, which } of ops) {
          const entry = entries[which]!;
          if (add && !reference.has(entry)) {
            set.add(entry);
            reference.add(entry);
          } else if (!add) {
            set.delete(entry);
            reference.delete(entry);
          }
          expect(set.size).toBe(reference.size);
          expect(new Set(set.snapshot())).toEqual(reference);
          for (const e of entries) expect(e.inFlightSlot >= 0).toBe(reference.has(e));
        }
      }),
    );
  });

  it('an entry of another set is not removed from this one', () => {
    const a = new InFlightSet<{ inFlightSlot: number }>();
    const b = new InFlightSet<{ inFlightSlot: number }>();
    const x = { inFlightSlot: -1 };
    const y = { inFlightSlot: -1 };
    a.add(x);
    b.add(y); // both at slot 0
    a.delete(y);
    expect(a.snapshot()).toEqual([x]);
    expect(b.snapshot()).toEqual([y]);
  });
});
