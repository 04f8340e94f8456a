import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

/**
 * A port on 127.0.0.1 with nothing listening: port 1, which listen(0) never hands out. (A
 * port bound and then released could be taken meanwhile by a server of a test running in
 * parallel, whose answers or resets then counted as this endpoint's failures.)
 */
const DEAD_PORT = 1;

describe('connection errors count against an endpoint’s load', () => {
  let live: Backend;
  beforeAll(async () => {
    live = await startBackend({ id: 'live' });
  });
  afterAll(() => closeAll([live]));

  it('P2C Peak EWMA stops choosing an endpoint that refuses connections', async () => {
    const dead = DEAD_PORT;
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [live.address, `127.0.0.1:${dead}`] })] });
    let failed = 0;
    for (let i = 0; i < 100; i++) {
      try {
        await (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();
      } catch (error) {
        expect((error as { code?: string }).code).toBe('ECONNREFUSED');
        failed++;
      }
    }
    // Istio's default retries (connect-failure) send a refused try to the live endpoint,
    // and the 1 s penalty makes the balancer avoid the dead one afterwards.
    expect(failed).toBe(0);
    const endpoint = mesh.services()[0]!.endpoints.find((e) => e.key.endsWith(`:${dead}`))!;
    expect(endpoint.failures).toBeLessThanOrEqual(2);
    expect(endpoint.pending).toBe(0);
    await mesh.close();
  });
});
