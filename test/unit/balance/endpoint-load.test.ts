import { describe, expect, it } from 'vitest';
import { EndpointLoad, FAILURE_PENALTY_MS } from '../../../src/balance/endpoint-load.js';
import { ServiceLatency } from '../../../src/balance/service-latency.js';

const e1 = Math.exp(-1);

describe('EndpointLoad', () => {
  it('starts at the default RTT of 30 ms, decaying from creation', () => {
    const load = new EndpointLoad({ nowMs: 1_000 });
    expect(load.rttEstimate(1_000)).toBe(30);
    expect(load.cost(1_000)).toBe(30);
    expect(load.rttEstimate(11_000)).toBeCloseTo(30 * e1, 9); // 11.036
    load.start();
    load.start();
    expect(load.pending).toBe(2);
    expect(load.rttEstimate(1_000)).toBe(30);
    expect(load.cost(1_000)).toBe(Infinity); // no answer yet: one probe at a time
  });

  it('creates on the performance.now() clock by default', () => {
    const load = new EndpointLoad();
    expect(load.rttEstimate(performance.now())).toBeCloseTo(30, 1);
  });

  it('jumps to a peak, mixes lower samples with w = exp(−Δt/τ), decays towards zero', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    // Δt = 1 s: decayed default 30·e^−0.1 ≈ 27.15 < 50, so the peak wins outright.
    load.observe(50, 1_000);
    expect(load.rttEstimate(1_000)).toBe(50);
    load.observe(100, 2_000);
    expect(load.rttEstimate(2_000)).toBe(100);
    // Δt = τ: w = e^−1; 100·0.36788 + 10·0.63212 = 43.109.
    load.observe(10, 12_000);
    expect(load.rttEstimate(12_000)).toBeCloseTo(100 * e1 + 10 * (1 - e1), 9);
    expect(load.rttEstimate(12_000)).toBeCloseTo(43.109, 3);
    // Another τ without samples: 43.109·e^−1 ≈ 15.859; reading does not store it.
    expect(load.rttEstimate(22_000)).toBeCloseTo(15.859, 3);
    expect(load.rttEstimate(12_000)).toBeCloseTo(43.109, 3);
    // A sample just above the decayed estimate is a peak.
    load.observe(16, 22_000);
    expect(load.rttEstimate(22_000)).toBe(16);
  });

  it('takes its first sample as the estimate: the default stands only for no history', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    expect(load.samples).toBe(0);
    load.observe(2, 10_000);
    expect(load.rttEstimate(10_000)).toBe(2);
    expect(load.samples).toBe(1);
    load.observe(1, 10_000); // Δt = 0: w = 1, a lower second sample changes nothing yet
    expect(load.rttEstimate(10_000)).toBe(2);
    const slow = new EndpointLoad({ nowMs: 0 });
    slow.observe(51, 0);
    expect(slow.rttEstimate(0)).toBe(51);
  });

  it('computes cost = estimate × (pending + 1), the queue divided by a relative weight', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    load.observe(40, 0);
    load.start();
    load.start();
    load.start();
    expect(load.cost(0)).toBe(160);
    expect(load.cost(10_000)).toBeCloseTo(160 * e1, 9);
    expect(load.cost(0, 3)).toBe(80); // 40 × (1 + 3/3)
  });

  it('does not decay when the clock goes backwards', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    load.observe(40, 10_000);
    expect(load.rttEstimate(5_000)).toBe(40);
    load.observe(10, 5_000);
    expect(load.rttEstimate(5_000)).toBe(40);
  });

  it('finishes requests: pending, samples, failure penalty, cancellations', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    load.start();
    load.start();
    load.start();
    load.finish(45, 100, true);
    expect(load.pending).toBe(2);
    expect(load.rttEstimate(100)).toBe(45);
    expect(load.failures).toBe(0);

    load.finish(3, 100, false); // a fast connection error counts as 1 s
    expect(FAILURE_PENALTY_MS).toBe(1000);
    expect(load.pending).toBe(1);
    expect(load.failures).toBe(1);
    expect(load.rttEstimate(100)).toBe(1000);

    load.finishWithoutSample();
    expect(load.pending).toBe(0);
    expect(load.rttEstimate(100)).toBe(1000);

    load.finishWithoutSample();
    load.finish(5, 100, true);
    expect(load.pending).toBe(0); // never negative

    const slowFailure = new EndpointLoad({ nowMs: 0 });
    slowFailure.start();
    slowFailure.finish(2_500, 0, false);
    expect(slowFailure.rttEstimate(0)).toBe(2_500);
  });

  it('takes a cancelled request as "at least this long": a peak when above the estimate, nothing otherwise', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    load.start();
    load.finish(5, 0, true);
    expect(load.rttEstimate(0)).toBe(5);

    // A hedge lost after 15 ms: the endpoint took at least 15 ms, more than the estimate.
    load.start();
    load.finishCancelled(15, 10);
    expect(load.pending).toBe(0);
    expect(load.samples).toBe(2);
    expect(load.rttEstimate(10)).toBe(15);

    // Cancelled after 2 ms, under the estimate: no information, nothing changes.
    load.start();
    load.finishCancelled(2, 20);
    expect(load.pending).toBe(0);
    expect(load.samples).toBe(2);
    expect(load.rttEstimate(10)).toBe(15);
    expect(load.failures).toBe(0);

    // Compared with the decayed estimate: after 10 s (τ), 15 ms has decayed to 15/e ≈ 5.5 ms.
    load.start();
    load.finishCancelled(6, 10_010);
    expect(load.rttEstimate(10_010)).toBe(6);

    // With no history, the default (30 ms) is what a cancellation has to beat.
    const fresh = new EndpointLoad({ nowMs: 0 });
    fresh.start();
    fresh.finishCancelled(20, 0);
    expect(fresh.samples).toBe(0);
    expect(fresh.rttEstimate(0)).toBe(30);
    fresh.start();
    fresh.finishCancelled(40, 0);
    expect(fresh.rttEstimate(0)).toBe(40);
  });

  it('takes its default RTT and τ from options', () => {
    const load = new EndpointLoad({ defaultRttMs: 100, decayMs: 1_000, nowMs: 0 });
    expect(load.cost(0)).toBe(100);
    expect(load.rttEstimate(1_000)).toBeCloseTo(100 * e1, 9);
  });

  it('holds only numbers and the shared service latency: no objects of its own', () => {
    const peers = new ServiceLatency();
    for (const load of [new EndpointLoad(), new EndpointLoad({ peers })]) {
      for (const [field, value] of Object.entries(load)) {
        expect(typeof value === 'number' || value === peers || (field === 'peers' && value === undefined), field).toBe(true);
      }
    }
  });

  it('starts from its service\'s typical latency when the service has one, and its first sample replaces it', () => {
    const peers = new ServiceLatency();
    const old = new EndpointLoad({ nowMs: 0, peers });
    const other = new EndpointLoad({ nowMs: 0, peers });
    const fresh = new EndpointLoad({ nowMs: 0, peers });
    expect(fresh.rttEstimate(0)).toBe(30); // nothing known yet: the default
    old.start();
    old.finish(0.4, 100, true);
    other.start();
    other.finish(0.2, 100, true);
    expect(fresh.rttEstimate(100)).toBe(0.2); // the faster of two is typical
    expect(fresh.cost(100)).toBe(0.2);
    expect(fresh.rttEstimate(10_100)).toBeCloseTo(0.2 * e1, 9); // and it decays with the service's
    fresh.start();
    fresh.finish(5, 200, true);
    expect(fresh.rttEstimate(200)).toBe(5);
  });

  it('feeds its service its estimate after real answers only: a failure or a cancelled try alone feeds nothing', () => {
    const peers = new ServiceLatency();
    const load = new EndpointLoad({ nowMs: 0, peers });
    load.start();
    load.finish(2, 0, false);
    load.start();
    load.finishCancelled(5_000, 0);
    expect(peers.samples).toBe(0);
    const healthy = new EndpointLoad({ nowMs: 0, peers });
    healthy.start();
    healthy.finish(3, 0, true);
    expect(peers.samples).toBe(1);
    expect(peers.medianMs).toBe(3);
    load.start();
    load.finish(4, 0, true); // its estimate is still the 5 s peak of the cut-off try
    expect(peers.medianMs).toBe(3); // the lower of two
    expect(peers.samples).toBe(2);
  });

  it('is probed one request at a time until its first answer', () => {
    const load = new EndpointLoad({ nowMs: 0 });
    expect(load.cost(0)).toBe(30);
    load.start();
    expect(load.cost(0)).toBe(Infinity);
    expect(load.typicalCost(1, 0)).toBe(Infinity);
    load.finish(2, 0, true);
    load.start();
    expect(load.cost(0)).toBe(4); // 2 × (1 + 1)
  });

  it('is in line with its service while at most one of its last three answers was slow', () => {
    const peers = new ServiceLatency();
    const [a, b, c] = [0, 1, 2].map(() => new EndpointLoad({ nowMs: 0, peers }));
    const answer = (load: EndpointLoad, ms: number): void => {
      load.start();
      load.finish(ms, 0, true);
    };
    expect(new EndpointLoad().inLine()).toBe(false); // alone, there is nothing to compare with
    expect(a!.inLine()).toBe(true); // nothing known yet
    answer(a!, 0.3);
    expect(b!.inLine()).toBe(false); // one endpoint's answers are not yet a service: cost decides
    answer(b!, 0.3);
    expect(c!.inLine()).toBe(true); // no answer yet: counts as typical
    answer(c!, 20);
    expect(c!.inLine()).toBe(true); // one slow answer: 20 against 0.3, 0.3 (typical fills in)
    answer(c!, 20);
    expect(c!.inLine()).toBe(false); // two of three: out of line (20 > 1.5 × 0.3 + 1)
    answer(c!, 0.4);
    answer(c!, 0.4);
    expect(c!.inLine()).toBe(true);
    answer(a!, 1.2); // within 1.5 × 0.3 + 1 = 1.45 ms
    answer(a!, 1.2);
    expect(a!.inLine()).toBe(true);
  });
});
