import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { median3, ServiceLatency } from '../../../src/balance/service-latency.js';

/** The same rules written plainly: the latest sample of the five endpoints sampled most recently. */
class Reference {
  held: Array<{ owner: number; value: number; stamp: number }> = [];
  medians: number[] = []; // one per sample taken while two or more endpoints were held
  count = 0;
  observe(value: number, owner: number): void {
    this.count++;
    const same = this.held.find((h) => h.owner === owner);
    if (same) Object.assign(same, { value, stamp: this.count });
    else if (this.held.length < 5) this.held.push({ owner, value, stamp: this.count });
    else {
      const oldest = this.held.reduce((a, b) => (b.stamp < a.stamp ? b : a));
      Object.assign(oldest, { owner, value, stamp: this.count });
    }
    if (this.held.length >= 2) this.medians.push(this.median());
  }
  median(): number {
    const sorted = this.held.map((h) => h.value).sort((a, b) => a - b);
    return sorted[(sorted.length - 1) >> 1]!;
  }
}

describe('ServiceLatency', () => {
  it('takes the median of the latest sample of each of the last five endpoints, and a ceiling over the last 16 to 32 medians', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ owner: fc.integer({ min: 0, max: 7 }), value: fc.double({ min: 0.01, max: 500, noNaN: true }) }), { minLength: 1, maxLength: 120 }),
        (samples) => {
          const latency = new ServiceLatency();
          const reference = new Reference();
          const owners = Array.from({ length: 8 }, (_, i) => ({ endpoint: i }));
          for (const { owner, value } of samples) {
            latency.observe(value, 0, owners[owner]);
            reference.observe(value, owner);
            expect(latency.medianMs).toBe(reference.median());
            expect(latency.samples).toBe(reference.count);
            const medians = reference.medians;
            if (medians.length === 0) {
              expect(latency.ceilingMs).toBeNaN();
            } else {
              // The ceiling covers at least the last 16 medians and at most the last 32.
              expect(latency.ceilingMs).toBeGreaterThanOrEqual(Math.max(...medians.slice(-16)));
              expect(latency.ceilingMs).toBeLessThanOrEqual(Math.max(...medians.slice(-32)));
            }
          }
        },
      ),
    );
  });

  it('one slow endpoint is never the median of three or more, however often it answers', () => {
    const latency = new ServiceLatency();
    const [fastA, fastB, slow] = [{}, {}, {}];
    latency.observe(0.3, 0, fastA);
    latency.observe(0.4, 0, fastB);
    for (let i = 0; i < 10; i++) latency.observe(20, 0, slow);
    expect(latency.medianMs).toBe(0.4);
    expect(latency.ceilingMs).toBe(0.4);
  });

  it('with two endpoints, the faster one is typical; one endpoint alone sets no ceiling', () => {
    const latency = new ServiceLatency();
    latency.observe(20, 0, 'slow');
    expect(latency.medianMs).toBe(20); // a start value for new endpoints: the only answer known
    expect(latency.ceilingMs).toBeNaN();
    latency.observe(0.5, 0, 'fast');
    expect(latency.medianMs).toBe(0.5);
    expect(latency.ceilingMs).toBe(0.5);
  });

  it('remembers a moment when everything was slow for 16 to 32 samples, then forgets it', () => {
    const latency = new ServiceLatency();
    const owners = [{}, {}, {}];
    let n = 0;
    const round = (ms: number): void => {
      for (const owner of owners) latency.observe(ms, n++, owner);
    };
    round(0.3);
    round(8); // a pause: every endpoint answered slowly
    expect(latency.ceilingMs).toBe(8);
    round(0.3);
    expect(latency.medianMs).toBe(0.3);
    expect(latency.ceilingMs).toBe(8);
    for (let i = 0; i < 11; i++) round(0.3); // 33 more samples
    expect(latency.ceilingMs).toBe(0.3);
  });

  it('decays between samples like an endpoint estimate (τ 10 s), without changing what it holds', () => {
    const latency = new ServiceLatency();
    expect(latency.estimate(0)).toBeNaN();
    latency.observe(10, 1_000, 'a');
    expect(latency.estimate(1_000)).toBe(10);
    expect(latency.estimate(11_000)).toBeCloseTo(10 * Math.exp(-1), 9);
    expect(latency.estimate(500)).toBe(10); // a clock that went backwards decays nothing
    expect(latency.medianMs).toBe(10);
  });

  it('median3 is the middle value', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), fc.double({ noNaN: true }), (a, b, c) => {
        expect(median3(a, b, c)).toBe([a, b, c].sort((x, y) => x - y)[1]);
      }),
    );
  });
});
