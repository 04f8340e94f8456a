// Peak EWMA samples leave out this process's own event-loop stalls: a response that waited
// behind a 250 ms stall of the client does not make its endpoint look 250 ms slow.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { stallClock } from '../../src/balance/stall-clock.js';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the client's thread is held, as by a long callback or a garbage collection
  }
}

/** A timer may fire up to this much before its time as performance.now() sees it. */
const SLACK_MS = 2;

/**
 * Runs `call` and returns how long this process was stalled meanwhile, by the clock the
 * mesh subtracts from its samples: on a busy shared machine the sample of an answer is its
 * time less at most those stalls (the one that kept it waiting), so the bounds below take
 * them into account.
 */
async function stallsDuring(call: () => Promise<unknown>): Promise<number> {
  const before = stallClock.read(performance.now());
  await call();
  return stallClock.read(performance.now()) - before;
}

describe('latency samples and client stalls', () => {
  it('a response delayed by a stall of the client gives no inflated sample; normal ones still count', async () => {
    const backend = await startBackend({ id: 'api', delayMs: 20 });
    servers.push(backend);
    const m = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })] });
    meshes.push(m);
    const cost = () => m.services()[0]!.endpoints[0]!.cost;
    // Warm: a connection and a first sample (about 20 ms: at least the server's 20 ms, less
    // any stall of this busy process the clock measured meanwhile, which is left out).
    const stalled = await stallsDuring(async () => (await request('http://api/', { dispatcher: m.dispatcher })).body.text());
    const STALL_MS = 250;
    const warm = cost();
    expect(warm).toBeGreaterThanOrEqual(20 - stalled - SLACK_MS);
    expect(warm).toBeLessThan(STALL_MS);

    const arrived = backend.whenRequests(backend.requests + 1);
    const inFlight = request('http://api/', { dispatcher: m.dispatcher });
    await arrived; // the request is on the server, which answers 20 ms later
    busyWait(STALL_MS); // the answer arrives after 20 ms and waits behind the stall
    await (await inFlight).body.text();
    // Without the correction the sample would be over the stall's 250 ms and become the
    // peak (Peak EWMA jumps to a higher sample): below it, the stall was left out.
    expect(cost()).toBeLessThan(STALL_MS);

    // A slow answer that is not the client's fault still raises the estimate: its sample is
    // its time less the stall that kept it waiting when it came (StallClock.heldUp, read
    // here right after the mesh read it, in the same turn of the event loop). A sample that
    // was mostly stall is not taken at all (the answer may have come at any moment of it),
    // so the claim is checked on an answer held up less than a third of the 300 ms; on a
    // loaded machine that may take a few requests.
    const slow = await startBackend({ id: 'slow', delayMs: 300 });
    servers.push(slow);
    const s = createMesh({ discovery: [staticEndpoints({ api: [slow.address] })] });
    meshes.push(s);
    let heldUp = Infinity;
    for (let i = 0; i < 10 && heldUp >= 100; i++) {
      const before = stallClock.read(performance.now());
      const res = await request('http://api/', { dispatcher: s.dispatcher });
      heldUp = stallClock.heldUp(performance.now(), before);
      await res.body.text();
    }
    expect(heldUp).toBeLessThan(100);
    // The estimate is at least that last sample (Peak EWMA keeps the peak, and mixes lower
    // samples in slowly), decayed a little while this test reads it (τ = 10 s).
    expect(s.services()[0]!.endpoints[0]!.cost).toBeGreaterThanOrEqual(0.95 * (300 - heldUp - SLACK_MS));
  });

  it('a stall early in the wait, over before the answer came, is not taken off its sample', async () => {
    // The answer comes 150 ms after the request reaches the server; this process stalls for
    // the first 80 ms of that, then is free again when the answer comes: the answer waited
    // for nothing, and its sample is its whole time. (Taking every stall of the wait off
    // made it 70 ms, or dropped it as mostly stall; on a machine short of CPU, where every
    // wake-up of this process is a few ms late, that made a slow replica look fast.)
    const backend = await startBackend({ id: 'late', delayMs: 150 });
    servers.push(backend);
    const m = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })] });
    meshes.push(m);
    // Checked on an answer that a stall of this loaded machine did not hold up by 30 ms or
    // more when it came (StallClock.heldUp, read right after the mesh read it); that may
    // take a few requests.
    let heldUp = Infinity;
    for (let i = 0; i < 10 && heldUp >= 30; i++) {
      const arrived = backend.whenRequests(backend.requests + 1);
      const inFlight = request('http://api/', { dispatcher: m.dispatcher });
      await arrived;
      const before = stallClock.read(performance.now());
      busyWait(80);
      const res = await inFlight;
      heldUp = stallClock.heldUp(performance.now(), before);
      await res.body.text();
    }
    expect(heldUp).toBeLessThan(30);
    expect(m.services()[0]!.endpoints[0]!.cost).toBeGreaterThanOrEqual(0.95 * (150 - heldUp - SLACK_MS));
  });
});
