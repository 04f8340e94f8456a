/**
 * The overload scenario of `inbound-overload.ts` in virtual time: the adaptive
 * concurrency limiter (the real class) in front of a backend of `slots` workers taking
 * `workMs` (+ a random 0 to `jitterMs`), arrivals in bursts every 5 ms as the benchmark's
 * open loop sends them. No timers, no sockets, no other process: the figures are the
 * algorithm's alone, the same on every machine for a given seed.
 */
import { AdaptiveConcurrencyLimiter, type LoadSheddingSettings } from 'proxyless/inbound';

/** What one simulated run measured. */
export interface SimulatedOverload {
  /** p99 latency at concurrency 2 (below capacity), ms. */
  readonly unloadedP99Ms: number;
  /** Answers within the give-up time per second of overload. */
  readonly goodput: number;
  /** p99 latency of those answers, ms. */
  readonly p99Ms: number;
  /** Refused at once (only with a limiter). */
  readonly refused: number;
  /** Answered after the caller gave up, or never. */
  readonly timedOut: number;
}

/** The scenario. */
export interface SimulationOptions {
  readonly slots: number;
  readonly workMs: number;
  readonly jitterMs: number;
  /** Arrivals per second during the overload. */
  readonly rate: number;
  readonly overloadMs: number;
  readonly giveUpMs: number;
  readonly seed: number;
  /**
   * Event-loop stalls (another process took the core): on average every `every` ms, for
   * `ms` on average (both exponential); nothing runs during one, and what was due runs
   * at its end. Default none.
   */
  readonly stalls?: { readonly every: number; readonly ms: number };
}

/** A binary min-heap of events by time, then by insertion order. */
class Events {
  readonly #heap: Array<{ t: number; seq: number; run: () => void }> = [];
  #seq = 0;
  add(t: number, run: () => void): void {
    const heap = this.#heap;
    heap.push({ t, seq: this.#seq++, run });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
  /** When the loop runs something due at `t` (later than `t` inside a stall). */
  delay: (t: number) => number = (t) => t;

  /** Runs events up to time `until`; `clock` is set to each event's time. */
  runUntil(until: number, clock: { now: number }): void {
    const heap = this.#heap;
    while (heap.length > 0 && heap[0]!.t <= until) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && this.#less(l, m)) m = l;
          if (r < heap.length && this.#less(r, m)) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m]!, heap[i]!];
          i = m;
        }
      }
      clock.now = Math.max(clock.now, this.delay(top.t));
      top.run();
    }
    clock.now = until;
  }
  #less(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.t < y.t || (x.t === y.t && x.seq < y.seq);
  }
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

/**
 * 2 s at concurrency 2 (warm-up: the limiter measures its minimum latency), 3 s more at
 * concurrency 2 (the unloaded p99), then `rate`/s for `overloadMs`; `settings` undefined
 * runs without a limiter (every request queues).
 */
export function simulateOverload(settings: LoadSheddingSettings | undefined, o: SimulationOptions): SimulatedOverload {
  let state = o.seed >>> 0 || 1;
  const random = (): number => {
    // xorshift32: deterministic per seed
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const clock = { now: 0 };
  const events = new Events();
  if (o.stalls !== undefined) {
    const windows: Array<[number, number]> = [];
    const exp = (mean: number): number => -mean * Math.log(1 - random());
    for (let t = exp(o.stalls.every); t < 60_000; t += exp(o.stalls.every)) {
      const end = t + exp(o.stalls.ms);
      windows.push([t, end]);
      t = end;
    }
    let i = 0;
    // Times asked for only grow (up to a stall's length back), so one cursor serves.
    events.delay = (t) => {
      while (i > 0 && windows[i - 1]![1] > t) i--;
      while (i < windows.length && windows[i]![1] <= t) i++;
      const w = windows[i];
      return w !== undefined && w[0] <= t ? w[1] : t;
    };
  }
  const limiter = settings === undefined ? undefined : new AdaptiveConcurrencyLimiter(settings, 0, random);
  let free = o.slots;
  const queue: Array<() => void> = [];
  const serve = (done: () => void): void => {
    const start = (): void =>
      events.add(clock.now + o.workMs + random() * o.jitterMs, () => {
        const next = queue.shift();
        if (next !== undefined) next();
        else free++;
        done();
      });
    if (free > 0) {
      free--;
      start();
    } else queue.push(start);
  };
  const latencies: Record<'warm' | 'unloaded' | 'overload', number[]> = { warm: [], unloaded: [], overload: [] };
  let phase: keyof typeof latencies = 'warm';
  let refused = 0;
  let timedOut = 0;
  const one = (then?: () => void): void => {
    const started = clock.now;
    const sink = latencies[phase];
    if (limiter !== undefined && !limiter.tryAcquire(started)) {
      refused++;
      then?.();
      return;
    }
    serve(() => {
      const latency = clock.now - started;
      limiter?.release(clock.now, latency);
      if (latency > o.giveUpMs) timedOut++;
      else sink.push(latency);
      then?.();
    });
  };
  let closedLoop = true;
  const worker = (): void => {
    if (closedLoop) one(worker);
  };
  events.add(0, worker);
  events.add(0, worker);
  events.runUntil(2000, clock);
  phase = 'unloaded';
  events.runUntil(5000, clock);
  closedLoop = false;
  events.runUntil(5000 + 2 * (o.workMs + o.jitterMs), clock);
  phase = 'overload';
  refused = 0;
  timedOut = 0;
  const start = clock.now;
  let sent = 0;
  for (let t = 0; t < o.overloadMs; t += 5) {
    events.add(start + t, () => {
      const due = Math.floor((o.rate * (t + 5)) / 1000);
      while (sent < due) {
        sent++;
        one();
      }
    });
  }
  events.runUntil(start + o.overloadMs + o.giveUpMs * 10, clock);
  return {
    unloadedP99Ms: p99(latencies.unloaded),
    goodput: latencies.overload.length / (o.overloadMs / 1000),
    p99Ms: p99(latencies.overload),
    refused,
    timedOut,
  };
}
