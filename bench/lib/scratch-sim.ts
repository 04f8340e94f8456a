// scratch: discrete-event simulation of the limiter against a 4-slot 20 ms backend (virtual time)
import { AdaptiveConcurrencyLimiter, loadSheddingSettings } from 'proxyless/inbound';

type Ev = { t: number; seq: number; fn: () => void };
function simulate(opts: object, seed = 1, jitterMs = 2, overloadMs = 5000) {
  let s = seed;
  const rnd = () => ((s = (s * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const q: Ev[] = [];
  let seq = 0;
  let now = 0;
  const at = (t: number, fn: () => void) => { q.push({ t, seq: seq++, fn }); };
  const run = (until: number) => {
    while (true) {
      let bi = -1;
      for (let i = 0; i < q.length; i++) if (bi < 0 || q[i]!.t < q[bi]!.t || (q[i]!.t === q[bi]!.t && q[i]!.seq < q[bi]!.seq)) bi = i;
      if (bi < 0 || q[bi]!.t > until) break;
      const e = q.splice(bi, 1)[0]!;
      now = e.t;
      e.fn();
    }
    now = until;
  };
  const limiter = new AdaptiveConcurrencyLimiter(loadSheddingSettings(opts, 'sim')!, 0, rnd);
  let free = 4;
  const waiting: Array<() => void> = [];
  const serve = (done: () => void) => {
    const go = () => at(now + 20 + rnd() * jitterMs, () => { const n = waiting.shift(); if (n) n(); else free++; done(); });
    if (free > 0) { free--; go(); } else waiting.push(go);
  };
  let phase = 'warm';
  const lat: Record<string, number[]> = { warm: [], unloaded: [], overload: [] };
  let refused = 0;
  let limits: number[] = [];
  const one = (then?: () => void) => {
    const started = now;
    const p = phase;
    if (!limiter.tryAcquire(now)) { refused++; then?.(); return; }
    serve(() => { limiter.release(now, now - started); lat[p]!.push(now - started); then?.(); });
  };
  // closed loop c=2 for 2 s warm + 3 s unloaded
  let closed = true;
  const loop = () => { if (closed) one(loop); };
  at(0, loop); at(0, loop);
  run(2000); phase = 'unloaded'; run(5000); closed = false; run(5200);
  phase = 'overload';
  const start = now;
  for (let t = 0; t < overloadMs; t += 5) at(start + t, () => { one(); one(); one(); });
  for (let t = 0; t < overloadMs; t += 10) at(start + t, () => limits.push(limiter.limit));
  run(start + overloadMs + 3000);
  const p99 = (xs: number[]) => { const a = [...xs].sort((x, y) => x - y); return a[Math.floor(a.length * 0.99)]!; };
  const unl = p99(lat.unloaded!);
  const ov = p99(lat.overload!);
  return { goodput: lat.overload!.length / (overloadMs / 1000), unloadedP99: unl, p99: ov, ratio: ov / unl, refused, limits: limits.filter((_, i) => i % 25 === 0).join(',') };
}
const opts = JSON.parse(process.argv[2] ?? '{}');
for (const seed of [1, 2, 3]) for (const jitter of [1, 5]) {
  const r = simulate(opts, seed, jitter);
  console.log(`seed ${seed} jitter ${jitter}: goodput ${r.goodput.toFixed(0)} p99 ${r.p99.toFixed(1)} unloaded ${r.unloadedP99.toFixed(1)} ratio ${r.ratio.toFixed(2)} | limits ${r.limits}`);
}
