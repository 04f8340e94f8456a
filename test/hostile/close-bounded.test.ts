// mesh.close() is bounded by closeGracePeriod whatever the network does: a connection
// attempt that never completes (a TLS handshake the endpoint never answers, a TCP connect
// whose SYNs are dropped) is neither waited for nor left running, on every path that
// makes connections: the endpoints' pools, the pass-through pool, active health checks
// (https and http), and an endpoint that discovery removed while it was connecting.
//
// undici cannot abandon a connection attempt: a pool's close() waits for every queued
// request (one whose caller gave up included) and its destroy() leaves the socket
// connecting until connectTimeout. The timeouts below are an hour: no test could wait
// them out, so each passes only if close() itself ends the attempt. "Ended" is observed
// as the server seeing the connection close (TLS stalls) or as this process's TCP handles
// returning to what they were (SYN drops, where the server never sees a connection).
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { startUnacceptingListener, tcpHandles, type UnacceptingListener } from '../helpers/unaccepting-listener.js';

const HOUR = 3_600_000;
const meshes: Mesh[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

/** A TCP server that reads what it gets (a ClientHello) and never answers: every TLS handshake stalls. */
interface SilentServer {
  readonly address: string;
  readonly port: number;
  /** Connections open now. */
  connections(): number;
}

async function silentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.resume(); // read, so the client's close is seen
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return { address: `127.0.0.1:${port}`, port, connections: () => sockets.size };
}

async function unaccepting(): Promise<UnacceptingListener> {
  const listener = await startUnacceptingListener();
  cleanups.push(() => listener.close());
  return listener;
}

function mesh(options: MeshOptions): Mesh {
  const m = createMesh({ closeGracePeriod: HOUR, ...options, endpointPool: { connectTimeout: HOUR, ...options.endpointPool } });
  meshes.push(m);
  return m;
}

/** Sends GET `url`; resolves with the error's code or name (it never gets an answer here). */
function send(m: Mesh, url: string, signal?: AbortSignal): Promise<string> {
  return request(url, { dispatcher: m.dispatcher, ...(signal ? { signal } : {}) }).then(
    (res) => `answered ${res.statusCode}`,
    (error: unknown) => {
      const code = (error as { code?: unknown }).code;
      return typeof code === 'string' ? code : (error as Error).name; // a DOMException's code is a number
    },
  );
}

const until = (check: () => void): Promise<void> => vi.waitFor(check, { timeout: 10_000, interval: 5 });

describe('close() ends connection attempts instead of waiting for them', () => {
  it('endpoint pool, plain HTTP, SYNs dropped: after a caller abort, close() returns and the attempt is gone', async () => {
    const blackhole = await unaccepting();
    const before = tcpHandles();
    const m = mesh({ discovery: [staticEndpoints({ api: [blackhole.address] })] });
    const controller = new AbortController();
    const pending = send(m, 'http://api/', controller.signal);
    await until(() => expect(tcpHandles()).toBe(before + 1)); // connecting
    controller.abort();
    expect(await pending).toBe('AbortError');
    expect(m.dispatcher.inFlight).toBe(0);
    await m.close();
    await until(() => expect(tcpHandles()).toBe(before));
  });

  it('endpoint pool, plain HTTP, SYNs dropped: a request still connecting when the grace period ends fails, and its attempt ends', async () => {
    const blackhole = await unaccepting();
    const before = tcpHandles();
    const m = mesh({ discovery: [staticEndpoints({ api: [blackhole.address] })], closeGracePeriod: 50 });
    const pending = send(m, 'http://api/');
    await until(() => expect(tcpHandles()).toBe(before + 1));
    await m.close();
    expect(await pending).toBe('PROXYLESS_ERR_CLOSE_TIMEOUT');
    await until(() => expect(tcpHandles()).toBe(before));
  });

  it('pass-through pool (ALLOW_ANY), https, stalled handshake: close() returns and the connection is closed', async () => {
    const silent = await silentServer();
    const m = mesh({});
    const controller = new AbortController();
    const pending = send(m, `https://127.0.0.1:${silent.port}/`, controller.signal);
    await until(() => expect(silent.connections()).toBe(1));
    controller.abort();
    expect(await pending).toBe('AbortError');
    await m.close();
    await until(() => expect(silent.connections()).toBe(0));
  });

  it('pass-through pool (ALLOW_ANY), plain HTTP, SYNs dropped: past the grace period the request fails and its attempt ends', async () => {
    const blackhole = await unaccepting();
    const before = tcpHandles();
    const m = mesh({ closeGracePeriod: 50 });
    const pending = send(m, `http://${blackhole.address}/`);
    await until(() => expect(tcpHandles()).toBe(before + 1));
    await m.close();
    expect(await pending).toBe('PROXYLESS_ERR_CLOSE_TIMEOUT');
    await until(() => expect(tcpHandles()).toBe(before));
  });

  it('active health checks of an https:// service, stalled handshake: close() ends the check connecting', async () => {
    const silent = await silentServer();
    const checks = JSON.stringify({ interval: '10ms', jitter: 0, timeout: '50ms' });
    const m = mesh({
      discovery: [staticEndpoints({ api: [silent.address] })],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: { 'proxyless.dev/health-check': checks } }, spec: { host: 'api' } }],
    });
    const controller = new AbortController();
    const pending = send(m, 'https://api/', controller.signal); // makes the service, which starts its checks
    // The request's connection and at least one check's (each check times out after 50 ms;
    // its connection, on the checker's own pool, goes on connecting).
    await until(() => expect(silent.connections()).toBeGreaterThanOrEqual(2));
    controller.abort();
    expect(await pending).toBe('AbortError');
    await m.close();
    await until(() => expect(silent.connections()).toBe(0));
  });

  it('active health checks of an http:// service, SYNs dropped: close() ends the check connecting', async () => {
    const blackhole = await unaccepting();
    const checks = JSON.stringify({ interval: '10ms', jitter: 0, timeout: '50ms' });
    const before = tcpHandles();
    const m = mesh({
      discovery: [staticEndpoints({ api: [blackhole.address] })],
      config: [{ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: { 'proxyless.dev/health-check': checks } }, spec: { host: 'api' } }],
    });
    const controller = new AbortController();
    const pending = send(m, 'http://api/', controller.signal);
    await until(() => expect(tcpHandles()).toBeGreaterThanOrEqual(before + 2)); // the request's attempt and a check's
    controller.abort();
    expect(await pending).toBe('AbortError');
    await m.close();
    await until(() => expect(tcpHandles()).toBe(before));
  });

  it('an endpoint removed by discovery while a request waits for its stalled handshake: close() ends that attempt too', async () => {
    const silent = await silentServer();
    const source = staticEndpoints({ api: [silent.address] });
    const m = mesh({ discovery: [source] });
    const controller = new AbortController();
    const pending = send(m, 'https://api/', controller.signal);
    await until(() => expect(silent.connections()).toBe(1));
    controller.abort();
    expect(await pending).toBe('AbortError');
    source.set('api', []); // the endpoint drains: its pool waits for the orphaned attempt
    expect(m.services()[0]!.endpoints).toEqual([]);
    await m.close();
    await until(() => expect(silent.connections()).toBe(0));
  });
});
