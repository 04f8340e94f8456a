import { loadSheddingSettings } from 'proxyless/inbound';
import { simulateOverload } from './limiter-simulation.js';
const opts = JSON.parse(process.argv[2] ?? '{}');
for (const stalls of [undefined, { every: 50, ms: 5 }, { every: 30, ms: 10 }, { every: 20, ms: 15 }]) {
  for (const seed of [1, 2, 3]) {
    const r = simulateOverload(loadSheddingSettings(opts, 'x')!, { slots: 4, workMs: 20, jitterMs: 2, rate: 600, overloadMs: 5000, giveUpMs: 2000, seed, ...(stalls ? { stalls } : {}) });
    console.log(JSON.stringify(stalls ?? null), seed, 'goodput', r.goodput.toFixed(0), 'p99', r.p99Ms.toFixed(1), 'unloaded', r.unloadedP99Ms.toFixed(1), 'ratio', (r.p99Ms / r.unloadedP99Ms).toFixed(2));
  }
}
