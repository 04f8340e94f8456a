// Peak EWMA samples leave out this process's own event-loop stalls: a response that waited
// behind a 250 ms stall of the client does not make its endpoint look 250 ms slow.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
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

describe('latency samples and client stalls', () => {
  it('a response delayed by a stall of the client gives no inflated sample; normal ones still count', async () => {
    const backend = await startBackend({ id: 'api', delayMs: 20 });
    servers.push(backend);
    const m = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })] });
    meshes.push(m);
    const cost = () => m.services()[0]!.endpoints[0]!.cost;
    // Warm: a connection and a first sample (about 20 ms).
    await (await request('http://api/', { dispatcher: m.dispatcher })).body.text();
    const STALL_MS = 250;
    const warm = cost();
    expect(warm).toBeGreaterThanOrEqual(15);
    expect(warm).toBeLessThan(STALL_MS);

    const arrived = backend.whenRequests(backend.requests + 1);
    const inFlight = request('http://api/', { dispatcher: m.dispatcher });
    await arrived; // the request is on the server, which answers 20 ms later
    busyWait(STALL_MS); // the answer arrives after 20 ms and waits behind the stall
    await (await inFlight).body.text();
    // Without the correction the sample would be over the stall's 250 ms and become the
    // peak (Peak EWMA jumps to a higher sample): below it, the stall was left out.
    expect(cost()).toBeLessThan(STALL_MS);

    // A slow answer that is not the client's fault still raises the estimate.
    const slow = await startBackend({ id: 'slow', delayMs: 300 });
    servers.push(slow);
    const s = createMesh({ discovery: [staticEndpoints({ api: [slow.address] })] });
    meshes.push(s);
    await (await request('http://api/', { dispatcher: s.dispatcher })).body.text();
    expect(s.services()[0]!.endpoints[0]!.cost).toBeGreaterThanOrEqual(250);
  });
});
