import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, MeshClosedError, staticEndpoints } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

describe('mesh.close()', () => {
  /** Holds every request until the test answers it: the test decides when a request ends. */
  let held: Backend;
  const waiting: ServerResponse[] = [];
  const answerAll = (): void => {
    for (const res of waiting.splice(0)) res.end('held');
  };
  beforeAll(async () => {
    held = await startBackend({ id: 'held', handle: (_req, res) => void waiting.push(res) });
  });
  afterAll(async () => {
    answerAll();
    await closeAll([held]);
  });

  it('lets in-flight requests finish, refuses new ones, and closes the pools', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [held.address] })] });
    const arrived = held.whenRequests(held.requests + 1);
    const inFlight = request('http://reviews/', { dispatcher: mesh.dispatcher }).then((r) => r.body.text());
    await arrived;
    expect(mesh.dispatcher.inFlight).toBe(1);
    let closed = false;
    const closing = mesh.close().then(() => (closed = true));
    await expect(request('http://reviews/', { dispatcher: mesh.dispatcher })).rejects.toBeInstanceOf(MeshClosedError);
    expect(closed, 'close() waits for the request in flight').toBe(false);
    answerAll();
    expect(await inFlight).toBe('held');
    await closing;
    expect(mesh.dispatcher.inFlight).toBe(0);
    expect(held.active).toBe(0);
    // Idempotent.
    await mesh.close();
  });

  it('fails requests still running when the grace period ends, with a clear error', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [held.address] })], closeGracePeriod: 50 });
    const arrived = held.whenRequests(held.requests + 1);
    const inFlight = request('http://reviews/', { dispatcher: mesh.dispatcher }).then(
      (r) => r.body.text(),
      (e: unknown) => e,
    );
    await arrived; // on the server, which never answers it
    await mesh.close();
    const error = await inFlight;
    expect(error).toMatchObject({ code: 'PROXYLESS_ERR_CLOSE_TIMEOUT' });
    expect((error as Error).message).toContain('closeGracePeriod');
    waiting.splice(0);
  });

  it('closes through the undici Dispatcher API too (dispatcher.close())', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [held.address] })] });
    await mesh.dispatcher.close();
    await expect(mesh.fetch('http://reviews/')).rejects.toMatchObject({ cause: expect.any(MeshClosedError) });
  });
});
