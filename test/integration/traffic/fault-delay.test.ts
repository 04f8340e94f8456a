// Fault injection's delay: the request waits in a timer, so what happens after it (an
// error routing it, the caller leaving) must still reach the caller and never the process.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, layer, staticEndpoints, type Mesh } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const delayed = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - fault: { delay: { fixedDelay: 20ms, percentage: { value: 100 } } }
    route: [{ destination: { host: api } }]
`;

describe('fault delay', () => {
  it('an error after the delay reaches the caller, not uncaughtException', async () => {
    const backend = await startBackend({ id: 'b' });
    servers.push(backend);
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => void uncaught.push(error);
    // Vitest reports uncaught exceptions too; listening here makes the failure name the bug.
    process.on('uncaughtException', onUncaught);
    try {
      const m = createMesh({
        discovery: [staticEndpoints({ api: [backend.address] })],
        config: delayed,
        stacks: {
          service: (stack) =>
            void stack.insertBefore(
              'timeout',
              layer('broken', () => () => {
                throw new Error('a layer failed after the delay');
              }),
            ),
        },
      });
      meshes.push(m);
      await expect(request('http://api/', { dispatcher: m.dispatcher })).rejects.toThrow('a layer failed after the delay');
      expect(m.dispatcher.inFlight).toBe(0);
      expect(uncaught).toEqual([]);
      expect(backend.requests).toBe(0);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });

  it('a delayed request is sent once the delay is over', async () => {
    const backend = await startBackend({ id: 'b2' });
    servers.push(backend);
    const m = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })], config: delayed });
    meshes.push(m);
    const res = await request('http://api/', { dispatcher: m.dispatcher });
    expect(await res.body.text()).toBe('b2');
    expect(backend.requests).toBe(1);
  });
});
