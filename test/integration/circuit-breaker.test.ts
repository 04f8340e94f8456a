import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Pool, request, type Dispatcher } from 'undici';
import { layer, Stack } from '../../src/core/layer.js';
import type { ServiceTarget } from '../../src/mesh/types.js';
import { breakerLayer, CircuitOpenError, ServiceBreaker } from '../../src/policy/breaker/index.js';
import { breakerSettings } from '../../src/config/settings/index.js';
import { startBackend, type Backend } from '../helpers/backends.js';

const target: ServiceTarget = {
  name: { host: 'flaky', fqdn: 'flaky.default.svc.cluster.local', names: ['flaky'], port: 80 },
  balancerName: 'none',
};

/** A service stack of two layers, `breaker` then the undici Pool, as the mesh builds one (without the mesh). */
function client(breaker: ServiceBreaker, origin: string): { dispatcher: Dispatcher; pool: Pool } {
  const pool = new Pool(origin, { connections: 4 });
  const dispatcher = pool.compose((poolDispatch) =>
    new Stack<ServiceTarget>('service', [breakerLayer((service) => (service === target ? breaker : undefined)), layer('pool', () => poolDispatch)]).build(target),
  );
  return { dispatcher, pool };
}

/** GET, reading the whole body: the status, or the error. */
async function get(dispatcher: Dispatcher, origin: string, path = '/', signal?: AbortSignal): Promise<number | Error> {
  try {
    const res = await request(`${origin}${path}`, { dispatcher, ...(signal ? { signal } : {}) });
    await res.body.text();
    return res.statusCode;
  } catch (error) {
    return error as Error;
  }
}

async function getMany(dispatcher: Dispatcher, origin: string, n: number): Promise<Array<number | Error>> {
  const results: Array<number | Error> = [];
  for (let i = 0; i < n; i++) results.push(await get(dispatcher, origin));
  return results;
}

function recordEvents(b: ServiceBreaker): string[] {
  const seen: string[] = [];
  b.events.on('open', () => seen.push('open'));
  b.events.on('halfOpen', () => seen.push('halfOpen'));
  b.events.on('close', () => seen.push('close'));
  return seen;
}

describe('circuit breaker in a service stack, against a real HTTP server', () => {
  let backend: Backend;
  let origin: string;
  let failing = true;
  const cleanups: Array<() => unknown> = [];

  beforeAll(async () => {
    backend = await startBackend({
      id: 'flaky',
      handle: (req, res) => {
        if (req.url === '/slow') return; // never answers
        res.statusCode = failing ? 500 : 200;
        res.end(failing ? 'broken' : 'ok');
      },
    });
    origin = `http://${backend.address}`;
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  afterAll(() => backend.close());

  function setUp(spec: Record<string, unknown>): { breaker: ServiceBreaker; dispatcher: Dispatcher } {
    const breaker = new ServiceBreaker('flaky', breakerSettings(spec, 'test'));
    const { dispatcher, pool } = client(breaker, origin);
    cleanups.push(() => breaker.close(), () => pool.destroy());
    return { breaker, dispatcher };
  }

  it('opens on 500s, fails fast without sending while open, then probes and closes once the server recovers', async () => {
    failing = true;
    const { breaker, dispatcher } = setUp({ volumeThreshold: 4, resetTimeout: '1s', halfOpenSuccesses: 2 });
    const seen = recordEvents(breaker);
    const sentBefore = backend.requests;

    expect(await getMany(dispatcher, origin, 4)).toEqual([500, 500, 500, 500]);
    expect(breaker.state()).toBe('open');
    expect(backend.requests - sentBefore).toBe(4);

    failing = false; // the service recovers, but the breaker does not know yet
    const refused = await getMany(dispatcher, origin, 5);
    for (const error of refused) {
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).code).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
      expect((error as CircuitOpenError).statusCode).toBe(503);
      expect((error as CircuitOpenError).message).toMatch(/^the circuit breaker of service "flaky" is open since .*; it lets a probe request through at .* \(resetTimeout 1 s\)/);
    }
    expect(backend.requests - sentBefore).toBe(4); // nothing was sent
    // At once: all five were refused before the breaker went half-open (after resetTimeout).
    expect(seen).toEqual(['open']);
    expect(breaker.state()).toBe('open');

    await once(breaker.events, 'halfOpen');
    expect(await get(dispatcher, origin)).toBe(200); // the first probe
    expect(breaker.state()).toBe('half-open'); // halfOpenSuccesses: 2
    expect(await get(dispatcher, origin)).toBe(200); // the second probe
    expect(breaker.state()).toBe('closed');
    expect(await getMany(dispatcher, origin, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(backend.requests - sentBefore).toBe(4 + 2 + 5);
    expect(seen).toEqual(['open', 'halfOpen', 'close']);
  });

  it('a probe that still gets a 500 reopens the breaker, which goes half-open again after another resetTimeout', async () => {
    failing = true;
    const { breaker, dispatcher } = setUp({ volumeThreshold: 3, resetTimeout: '300ms' });
    const seen = recordEvents(breaker);
    expect(await getMany(dispatcher, origin, 3)).toEqual([500, 500, 500]);
    await once(breaker.events, 'halfOpen');
    const halfOpenAgain = once(breaker.events, 'halfOpen');
    const sentBefore = backend.requests;
    expect(await get(dispatcher, origin)).toBe(500); // the probe reached the server
    expect(breaker.state()).toBe('open');
    expect(await get(dispatcher, origin)).toBeInstanceOf(CircuitOpenError);
    expect(backend.requests - sentBefore).toBe(1);
    expect(seen).toEqual(['open', 'halfOpen', 'open']);
    // (When exactly it goes half-open again is checked on fake timers in the unit tests.)
    await halfOpenAgain;
    expect(seen).toEqual(['open', 'halfOpen', 'open', 'halfOpen']);
  });

  it('connection errors count as failures', async () => {
    // Port 1: nothing listens there, and listen(0) never hands it out (a port bound and then
    // released could be taken meanwhile by a server of a test running in parallel).
    const deadOrigin = 'http://127.0.0.1:1';

    const breaker = new ServiceBreaker('flaky', breakerSettings({ volumeThreshold: 3 }, 'test'));
    const { dispatcher, pool } = client(breaker, deadOrigin);
    cleanups.push(() => breaker.close(), () => pool.destroy());
    const results = await getMany(dispatcher, deadOrigin, 3);
    expect(results.map((r) => (r as Error & { code?: string }).code)).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(breaker.state()).toBe('open');
    expect(await get(dispatcher, deadOrigin)).toBeInstanceOf(CircuitOpenError);
  });

  it('requests the caller aborts count as neither success nor failure, even with failOn "error"', async () => {
    const { breaker, dispatcher } = setUp({ volumeThreshold: 1, errorThresholdPercentage: 0, failOn: ['5xx', 'error'] });
    const sentBefore = backend.requests;
    // Both are aborted once the server has them (it never answers /slow).
    const userAbort = new AbortController();
    let arrived = backend.whenRequests(sentBefore + 1);
    const pending = get(dispatcher, origin, '/slow', userAbort.signal);
    await arrived;
    userAbort.abort(new Error('the user went away')); // a plain error: only the controller says it was an abort
    expect(await pending).toEqual(new Error('the user went away'));
    // What AbortSignal.timeout() does when it fires: abort with a TimeoutError.
    const timeout = new AbortController();
    arrived = backend.whenRequests(sentBefore + 2);
    const timingOut = get(dispatcher, origin, '/slow', timeout.signal);
    await arrived;
    timeout.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    expect(await timingOut).toHaveProperty('name', 'TimeoutError');
    expect(backend.requests - sentBefore).toBe(2);
    expect(breaker.state()).toBe('closed');
    expect(breaker.stats()).toMatchObject({ fires: 2, successes: 0, failures: 0 });
    failing = true;
    expect(await get(dispatcher, origin)).toBe(500); // one real failure is enough here
    expect(breaker.state()).toBe('open');
  });
});
