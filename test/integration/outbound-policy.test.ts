import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, UnknownServiceError } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

describe('outboundTrafficPolicy', () => {
  let outside: Backend;
  beforeAll(async () => {
    outside = await startBackend({ id: 'outside' });
  });
  afterAll(() => closeAll([outside]));

  it('ALLOW_ANY (default) passes an unknown host through untouched', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })] });
    const res = await request(`http://127.0.0.1:${outside.port}/echo`, { dispatcher: mesh.dispatcher });
    const echo = (await res.body.json()) as { headers: Record<string, string>; id: string };
    expect(echo.id).toBe('outside');
    expect(echo.headers.host).toBe(`127.0.0.1:${outside.port}`);
    expect(mesh.services().find((s) => s.name === '127.0.0.1')?.status).toBe('missing');
    await mesh.close();
  });

  it('REGISTRY_ONLY refuses an unknown host at once, naming it and how to register it', async () => {
    const mesh = createMesh({
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })],
    });
    const before = outside.requests;
    const error = await request(`http://localhost:${outside.port}/`, { dispatcher: mesh.dispatcher }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownServiceError);
    expect((error as UnknownServiceError).code).toBe('PROXYLESS_ERR_UNKNOWN_SERVICE');
    expect((error as Error).message).toContain('"localhost"');
    expect((error as Error).message).toContain('staticEndpoints');
    expect((error as Error).message).toContain('(asked: static)');
    expect(outside.requests).toBe(before);
    await mesh.close();
  });

  it('an https:// URL to a mesh service is refused with advice instead of a TLS error', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({ reviews: [outside.address] })] });
    await expect(request('https://reviews/', { dispatcher: mesh.dispatcher })).rejects.toMatchObject({
      code: 'PROXYLESS_ERR_INVALID_REQUEST',
      message: expect.stringContaining('http://reviews/'),
    });
    await mesh.close();
  });
});
