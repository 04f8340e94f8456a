import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, ForwardingHandler, InvalidOptionError, layer, staticEndpoints, type EndpointTarget, type ServiceTarget } from 'proxyless';
import { withHeader } from '../../src/core/headers.js';
import { closeAll, startBackend, startBackends, type Backend } from '../helpers/backends.js';

describe('user layers in the default stacks', () => {
  let backends: Backend[];
  beforeAll(async () => {
    backends = await startBackends(2, 'r');
  });
  afterAll(() => closeAll(backends));

  it('a service layer inserted before balance sees every request once, with the service as target', async () => {
    const seen: string[] = [];
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })],
      stacks: {
        service(stack) {
          expect(stack.roles()).toEqual(['timeout', 'retry', 'hedge', 'breaker', 'limits', 'balance']);
          stack.insertBefore(
            'balance',
            layer<ServiceTarget>('tag', (next, target) => (opts, handler) => {
              seen.push(target.name.fqdn);
              return next({ ...opts, headers: withHeader(opts.headers, 'x-service', target.name.fqdn) }, handler);
            }),
          );
        },
      },
    });
    const res = await request('http://reviews/echo', { dispatcher: mesh.dispatcher });
    const echo = (await res.body.json()) as { headers: Record<string, string> };
    expect(echo.headers['x-service']).toBe('reviews.default.svc.cluster.local');
    expect(seen).toEqual(['reviews.default.svc.cluster.local']);
    await mesh.close();
  });

  it('an endpoint layer inserted after load wraps the handler and sees the endpoint it runs for', async () => {
    const statuses: Array<[string, number]> = [];
    class StatusRecorder extends ForwardingHandler {
      constructor(next: ConstructorParameters<typeof ForwardingHandler>[0], private readonly key: string) {
        super(next);
      }
      override onResponseStart(...args: Parameters<ForwardingHandler['onResponseStart']>): void {
        statuses.push([this.key, args[1]]);
        super.onResponseStart(...args);
      }
    }
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: backends.map((b) => b.address) })],
      stacks: {
        endpoint(stack) {
          expect(stack.roles()).toEqual(['telemetry', 'load', 'outlier', 'pool']);
          stack.insertAfter('load', layer<EndpointTarget>('record-status', (next, target) => (opts, handler) => next(opts, new StatusRecorder(handler, target.key))));
        },
      },
    });
    for (let i = 0; i < 6; i++) await (await request('http://reviews/', { dispatcher: mesh.dispatcher })).body.text();
    expect(statuses).toHaveLength(6);
    for (const [key, status] of statuses) {
      expect(backends.map((b) => b.address)).toContain(key);
      expect(status).toBe(200);
    }
    await mesh.close();
  });

  it('stack edits with an unknown role, a duplicate role or on the terminal layer fail in createMesh with the roles listed', () => {
    const noop = layer<ServiceTarget>('noop', (next) => next);
    expect(() => createMesh({ stacks: { service: (s) => void s.insertBefore('authz', noop) } })).toThrow(
      /service stack: invalid option:\n {2}role: "authz" \(expected: one of "timeout", "retry", "hedge", "breaker", "limits", "balance"\)/,
    );
    expect(() => createMesh({ stacks: { service: (s) => void s.insertBefore('balance', layer('balance', (n) => n)) } })).toThrow(
      /"balance" is already in the stack/,
    );
    expect(() => createMesh({ stacks: { endpoint: (s) => void s.remove('pool') } })).toThrow(/terminal layer/);
    expect(() => createMesh({ stacks: { endpoint: (s) => void s.insertAfter('pool', layer('x', (n) => n)) } })).toThrow(InvalidOptionError);
    expect(() => layer('Bad Role', (n) => n)).toThrow(/role: "Bad Role" \(expected: a kebab-case name/);
  });

  it('removing the load layer is allowed (balancers then see no load)', async () => {
    // The backend holds the request: with the load layer, its endpoint would show 1 pending.
    let answer!: () => void;
    const held = await startBackend({ id: 'held', handle: (_req, res) => void (answer = () => res.end('held')) });
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: [held.address] })],
      stacks: { endpoint: (s) => void s.remove('load') },
    });
    const arrived = held.whenRequests(1);
    const response = request('http://reviews/', { dispatcher: mesh.dispatcher });
    await arrived;
    expect(mesh.services()[0]!.endpoints[0]!.pending).toBe(0);
    answer();
    expect(await (await response).body.text()).toBe('held');
    await mesh.close();
    await held.close();
  });
});

describe('a layer that throws', () => {
  it('fails the request with its error instead of throwing out of dispatch or hanging', async () => {
    const backends = await startBackends(1, 'x');
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: [backends[0]!.address] })],
      stacks: {
        endpoint: (s) =>
          void s.insertAfter('load', layer<EndpointTarget>('broken', () => {
            throw new Error('broken layer: cannot build');
          })),
      },
    });
    await expect(request('http://reviews/', { dispatcher: mesh.dispatcher })).rejects.toThrow('broken layer: cannot build');
    expect(mesh.dispatcher.inFlight).toBe(0);
    await mesh.close();
    await closeAll(backends);
  });
});

describe('a layer that throws per request', () => {
  it('leaves no pending count behind on the endpoint', async () => {
    const backends = await startBackends(1, 'y');
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: [backends[0]!.address] })],
      stacks: {
        endpoint: (s) =>
          void s.insertAfter('load', layer<EndpointTarget>('flaky', () => () => {
            throw new Error('flaky layer');
          })),
      },
    });
    await expect(request('http://reviews/', { dispatcher: mesh.dispatcher })).rejects.toThrow('flaky layer');
    expect(mesh.services()[0]!.endpoints[0]!.pending).toBe(0);
    await mesh.close();
    await closeAll(backends);
  });
});
