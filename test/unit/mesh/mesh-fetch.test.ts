// meshFetch's argument handling, without a network: bad arguments reject (as fetch
// does) instead of throwing, and nothing reaches a dispatcher.
import { Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';

/** A dispatcher that records whether it was called (it never should be here). */
class NoDispatch extends Dispatcher {
  calls = 0;
  override dispatch(): boolean {
    this.calls++;
    return false;
  }
}

describe('meshFetch arguments', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.resetModules();
  });

  it('rejects (does not throw) when init is not an object, naming what it got', async () => {
    const { meshFetch } = await import('../../../src/mesh/mesh-fetch.js');
    const dispatcher = new NoDispatch();
    let call: Promise<Response> | undefined;
    expect(() => (call = meshFetch(dispatcher, 'http://svc/', 42 as never))).not.toThrow();
    await expect(call).rejects.toThrow(new TypeError('mesh.fetch: init must be an object (RequestInit), got number'));
    expect(dispatcher.calls).toBe(0);
  });

  it('rejects with the error of an init getter that throws, reading each member once', async () => {
    const { meshFetch } = await import('../../../src/mesh/mesh-fetch.js');
    const reads: string[] = [];
    const init = new Proxy({}, { get: (_t, key) => void reads.push(String(key)) });
    const hostile = { get method(): string { throw new RangeError('no method for you'); } };
    await expect(meshFetch(new NoDispatch(), 'http://svc/', hostile as RequestInit)).rejects.toThrow(RangeError);
    await meshFetch(new NoDispatch(), 'data:,x', init as RequestInit);
    expect(reads.filter((k) => k !== 'then')).toEqual([...new Set(reads.filter((k) => k !== 'then'))]);
    expect(reads).not.toContain('dispatcher');
  });

  it('without a global fetch at load (node --no-experimental-fetch), rejects saying so', async () => {
    vi.stubGlobal('fetch', undefined);
    vi.resetModules();
    const { meshFetch } = await import('../../../src/mesh/mesh-fetch.js');
    await expect(meshFetch(new NoDispatch(), 'http://svc/')).rejects.toThrow(/--no-experimental-fetch/);
  });
});
