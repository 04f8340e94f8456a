// The process-wide stall clock (a 5 ms timer) runs only while a mesh has traffic: not
// after createMesh, from the first request, and it stops by itself once requests have
// been idle for StallClock.IDLE_STOP_MS. A real mesh and a real server; the stop is
// awaited as a state change (polled on timer ticks), never assumed after a sleep.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints } from '../../src/index.js';
import { StallClock, stallClock } from '../../src/balance/stall-clock.js';
import { closeServer, listen } from '../helpers/listen.js';

const server = createServer((_req, res) => res.end('ok'));
let address = '';

beforeAll(async () => {
  address = (await listen(server)).slice('http://'.length);
});
afterAll(() => closeServer(server));

/** Resolves once the clock stopped; fails past `limitMs` (ten times the idle grace). */
async function stopped(limitMs = StallClock.IDLE_STOP_MS * 10): Promise<void> {
  const until = performance.now() + limitMs;
  while (stallClock.running) {
    if (performance.now() > until) throw new Error(`the stall clock still runs ${limitMs} ms after the last request`);
    await new Promise((resolve) => setTimeout(resolve, StallClock.TICK_MS * 4));
  }
}

describe('the stall clock follows traffic', () => {
  it('does not run for an idle mesh, runs while it has requests, and stops after they end', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ echo: [address] })] });
    try {
      expect(stallClock.running, 'a mesh with no traffic').toBe(false);
      const res = await mesh.fetch('http://echo/');
      expect(stallClock.running, 'a request went through the load layer').toBe(true);
      expect(await res.text()).toBe('ok');
      await stopped();
      expect(stallClock.running).toBe(false);
      expect(mesh.services().length, 'the mesh is still open').toBeGreaterThan(0);
    } finally {
      await mesh.close();
    }
  });
});
