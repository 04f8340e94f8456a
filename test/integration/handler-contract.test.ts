// undici's handler contract, kept at every layer: dispatch's return value, every callback
// forwarded through retries and hedges, and handlers of undici's previous API that a
// user's layer passes down.
import { afterEach, describe, expect, it } from 'vitest';
import { request, type Dispatcher } from 'undici';
import { createMesh, layer, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

async function meshWith(config: string[] = [], extra: MeshOptions = {}, backends = 1): Promise<{ m: Mesh; b: Backend[] }> {
  const b = await Promise.all(Array.from({ length: backends }, (_, i) => startBackend({ id: `b${i}` })));
  servers.push(...b);
  const m = createMesh({ discovery: [staticEndpoints({ api: b.map((x) => x.address) })], config, ...extra });
  meshes.push(m);
  return { m, b };
}

/** A handler recording the callbacks it gets, resolving when the request ends. */
function recorder(): { handler: Dispatcher.DispatchHandler; calls: string[]; done: Promise<void> } {
  const calls: string[] = [];
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    calls,
    done,
    handler: {
      onRequestStart: () => void calls.push('start'),
      onRequestSent: () => void calls.push('sent'),
      onBodySent: (chunk) => void calls.push(`body:${Buffer.from(chunk).toString()}`),
      onResponseStart: (_c, status) => void calls.push(`status:${status}`),
      onResponseData: () => undefined,
      onResponseEnd: () => {
        calls.push('end');
        finish();
      },
      onResponseError: (_c, error) => {
        calls.push(`error:${(error as { code?: string }).code ?? error.message}`);
        finish();
      },
    },
  };
}

const hedged = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '{"delay": "1s", "maxExtraPercent": 100}'
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
`;

describe('the dispatch handler contract', () => {
  it('dispatch returns true for a request it answered with an error (false would mean "busy, wait for drain")', async () => {
    const { m } = await meshWith();
    const badOrigin = recorder();
    expect(m.dispatcher.dispatch({ path: '/', method: 'GET' }, badOrigin.handler)).toBe(true);
    await badOrigin.done;
    expect(badOrigin.calls).toEqual(['error:PROXYLESS_ERR_INVALID_REQUEST']);
    await m.close();
    const closed = recorder();
    expect(m.dispatcher.dispatch({ origin: 'http://api', path: '/', method: 'GET' }, closed.handler)).toBe(true);
    await closed.done;
    expect(closed.calls).toEqual(['error:PROXYLESS_ERR_MESH_CLOSED']);
  });

  it.each([
    ['the retry layer (default policy)', [] as string[]],
    ['a hedged route', [hedged]],
  ])('onRequestSent and onBodySent reach the caller through %s', async (_name, config) => {
    const { m } = await meshWith(config);
    const { handler, calls, done } = recorder();
    expect(m.dispatcher.dispatch({ origin: 'http://api', path: '/', method: 'PUT', body: 'hello' }, handler)).toBe(true);
    await done;
    expect(calls).toEqual(['start', 'body:hello', 'sent', 'status:200', 'end']);
  });

  it("a handler of undici's previous API passed down by a user's layer works", async () => {
    // The layer speaks undici v1 to the layers below (onConnect, onHeaders, onData, onComplete, onError).
    const legacy = layer('legacy-adapter', (next) => (opts, handler) => {
      let controller!: Dispatcher.DispatchController;
      return next(opts, {
        onConnect(abort: (reason?: Error) => void) {
          controller = { abort, pause() {}, resume() {}, aborted: false, paused: false, reason: null } as unknown as Dispatcher.DispatchController;
          handler.onRequestStart?.(controller, null);
        },
        onHeaders(status: number, raw: Buffer[]) {
          const headers: Record<string, string> = {};
          for (let i = 0; i < raw.length; i += 2) headers[raw[i]!.toString().toLowerCase()] = raw[i + 1]!.toString();
          handler.onResponseStart?.(controller, status, headers, '');
          return true;
        },
        onData(chunk: Buffer) {
          handler.onResponseData?.(controller, chunk);
          return true;
        },
        onComplete() {
          handler.onResponseEnd?.(controller, {});
        },
        onError(error: Error) {
          handler.onResponseError?.(controller, error);
        },
      } as unknown as Dispatcher.DispatchHandler);
    });
    const { m } = await meshWith([], { stacks: { service: (stack) => void stack.insertBefore('retry', legacy) } });
    const res = await request('http://api/', { dispatcher: m.dispatcher });
    expect(await res.body.text()).toBe('b0');
  }, 5000);

  it('a layer that passes down something that is no handler is refused loudly, naming the layer', async () => {
    const broken = layer('broken-layer', (next) => (opts) => next(opts, {} as Dispatcher.DispatchHandler));
    const { m } = await meshWith([], { stacks: { service: (stack) => void stack.insertBefore('retry', broken) } });
    await expect(request('http://api/', { dispatcher: m.dispatcher })).rejects.toThrow(/layer "broken-layer" passed down a handler with no callbacks/);
    expect(m.dispatcher.inFlight).toBe(0);
  }, 5000);
});

describe('a caller whose onRequestStart throws', () => {
  it('gets the error in onResponseError, and nothing is sent', async () => {
    const { m, b } = await meshWith();
    const { handler, calls, done } = recorder();
    const throwing = { ...handler, onRequestStart: () => { throw new Error('handler bug'); } } as Dispatcher.DispatchHandler;
    expect(m.dispatcher.dispatch({ origin: 'http://api', path: '/', method: 'GET' }, throwing)).toBe(true);
    await done;
    expect(calls).toEqual(['error:handler bug']);
    expect(m.dispatcher.inFlight).toBe(0);
    expect(b[0]!.requests).toBe(0);
  });
});
