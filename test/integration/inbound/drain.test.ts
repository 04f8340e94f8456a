// Graceful drain in one process, step by step, with real servers and a real client:
// readiness first, registrations before the servers stop, Connection: close, requests in
// flight finishing (and still calling out through the mesh), the grace period, the mesh last.
import { createServer, type Server, type ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, inbound, staticEndpoints, InvalidOptionError, type Mesh } from 'proxyless';
import { closeServer, listen } from '../../helpers/listen.js';

const servers: Server[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map(closeServer));
  await Promise.all(meshes.splice(0).map((m) => m.close()));
});

describe('mesh.drain()', () => {
  it('readiness 503 at once; the registration is removed before the server stops accepting; responses close their connections; in-flight requests finish and still call out; the mesh closes last', async () => {
    const events: string[] = [];
    const backend = createServer((_req, res) => res.end('backend'));
    servers.push(backend);
    const backendUrl = await listen(backend);
    const mesh = createMesh({ discovery: [staticEndpoints({ backend: [backendUrl.slice('http://'.length)] })] });
    const closeMesh = mesh.close.bind(mesh);
    mesh.close = () => {
      events.push('mesh-close');
      return closeMesh();
    };
    mesh.addRegistration({ close: async () => void events.push(`deregistered (server listening: ${server.listening})`) });
    const side = inbound(mesh);
    side.lifecycle.on('stopAccepting', () => events.push('stop-accepting'));
    const held: Array<() => void> = [];
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const server = side.attach(
      createServer(
        side.handler((req, res: ServerResponse) => {
          if (req.url === '/slow') {
            entered();
            held.push(async () => {
              // Called after the server stopped accepting: the mesh is still open.
              const nested = await mesh.fetch('http://backend/');
              res.end(`slow: ${await nested.text()}`);
            });
            return;
          }
          res.end('fast');
        }),
      ),
    );
    servers.push(server);
    const base = await listen(server);

    const slow = request(`${base}/slow`);
    await inHandler;
    const drained = mesh.drain({ delay: 200, grace: 10_000 });
    expect(mesh.drain()).toBe(drained);
    const ready = await request(`${base}/healthz/ready`);
    expect([ready.statusCode, await ready.body.text(), ready.headers.connection]).toEqual([503, 'not ready: draining\n', 'close']);
    // During the delay the server still accepts, and its answers close their connections.
    const during = await request(`${base}/fast`);
    expect([during.statusCode, await during.body.text(), during.headers.connection]).toEqual([200, 'fast', 'close']);
    await new Promise<void>((resolve) => side.lifecycle.once('stopAccepting', () => resolve()));
    expect(server.listening).toBe(false);
    await expect(request(`${base}/fast`)).rejects.toThrow(); // no longer accepting
    held[0]!();
    const answer = await slow;
    expect([answer.statusCode, await answer.body.text(), answer.headers.connection]).toEqual([200, 'slow: backend', 'close']);
    await drained;
    expect(events).toEqual(['deregistered (server listening: true)', 'stop-accepting', 'mesh-close']);
    expect(side.state).toBe('drained');
  });

  it('a request still running when the grace ends is cut (counted in drained), and the drain still finishes', async () => {
    const mesh = createMesh({ discovery: [staticEndpoints({})] });
    const side = inbound(mesh);
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    const server = side.attach(createServer(side.handler(() => entered())));
    servers.push(server);
    const base = await listen(server);
    const hung = request(`${base}/`).catch((error: unknown) => error);
    await inHandler;
    const info = new Promise<{ cut: number }>((resolve) => side.lifecycle.once('drained', resolve));
    await mesh.drain({ delay: 0, grace: 50 });
    expect(await info).toEqual({ cut: 1 });
    expect(await hung).toBeInstanceOf(Error);
    expect(side.lifecycle.inFlight).toBe(0);
  });

  it('drain options are validated', () => {
    const mesh = createMesh({ discovery: [staticEndpoints({})] });
    meshes.push(mesh);
    expect(() => mesh.drain({ delay: -1 })).toThrow(InvalidOptionError);
    expect(() => mesh.drain({ grace: 1.5 })).toThrow(/options\.grace: 1\.5 \(expected: a whole number of milliseconds\)/);
    expect(() => inbound(mesh, { drain: { signals: ['SIGKILL' as never] } })).toThrow(/drain\.signals\[0\]: "SIGKILL" \(expected: one of "SIGTERM", "SIGINT", "SIGHUP"\)/);
    expect(() => mesh.addRegistration({} as never)).toThrow(/registration: \[object Object\] \(expected: an object with close\(\)/);
  });
});
