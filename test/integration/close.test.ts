import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, MeshClosedError, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

describe('mesh.close()', () => {
  let slow: Backend;
  beforeAll(async () => {
    slow = await startBackend({ id: 'slow', delayMs: 300 });
  });
  afterAll(() => closeAll([slow]));

  it('lets in-flight requests finish, refuses new ones, and closes the pools', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [slow.address] })] });
    const inFlight = request('http://reviews/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text());
    await new Promise((r) => setTimeout(r, 50));
    expect(mesh.dispatcher.inFlight).toBe(1);
    const closing = mesh.close();
    await expect(request('http://reviews/', { dispatcher: mesh.dispatcher })).rejects.toBeInstanceOf(MeshClosedError);
    expect(await inFlight).toBe('slow');
    await closing;
    expect(mesh.dispatcher.inFlight).toBe(0);
    expect(slow.active).toBe(0);
    // Idempotent.
    await mesh.close();
  });

  it('fails requests still running when the grace period ends, with a clear error', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [slow.address] })], closeGracePeriod: 50 });
    const inFlight = request('http://reviews/', { dispatcher: mesh.dispatcher }).then(
      (r) => r.body.text(),
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 20));
    await mesh.close();
    const error = await inFlight;
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_CLOSE_TIMEOUT' });
    expect((error as Error).message).toContain('closeGracePeriod');
  });

  it('closes through the undici Dispatcher API too (dispatcher.close())', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [slow.address] })] });
    await mesh.dispatcher.close();
    await expect(mesh.fetch('http://reviews/')).rejects.toMatchObject({ cause: expect.any(MeshClosedError) });
  });
});
