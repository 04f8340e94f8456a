// Hostile endpoints and hostile reloads, for what the endpoint layer decides: a backend
// that lies to its health checks, endpoints that stall the TLS handshake or answer it
// with garbage, and reloads that flip breaker and health-check settings under traffic.
// Each must end in a clear outcome: no hang, no lost request, no timer left running.
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, type Mesh } from 'proxyless';
import { startBackend, type Backend } from '../helpers/backends.js';
import { startHttpsBackend, testPki, type HttpsBackend, type TestCa, type TestPki } from '../helpers/certs.js';
import { requireBinaries } from '../helpers/system-binaries.js';
import { MESH_TIMERS, trackTimers, type TimerTracker } from '../helpers/timer-leaks.js';

const servers: Array<Backend | HttpsBackend> = [];
const tcpServers: Server[] = [];
/** The open connections of each raw server, by its address. */
const rawSockets = new Map<string, Set<Socket>>();
const meshes: Mesh[] = [];
let tracker: TimerTracker | undefined;
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(tcpServers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  tracker?.restore();
  tracker = undefined;
});

function destinationRule(annotations: Record<string, object>, trafficPolicy: object = {}) {
  const encoded: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) encoded[key] = JSON.stringify(value);
  // No policy: no trafficPolicy at all (Istio refuses an empty one).
  const spec = Object.keys(trafficPolicy).length > 0 ? { host: 'api', trafficPolicy } : { host: 'api' };
  return { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: encoded }, spec };
}

/** GET `url`: `status body`, or the error's code. */
async function call(m: Mesh, url = 'http://api/', signal?: AbortSignal): Promise<string> {
  try {
    const res = await request(url, { dispatcher: m.dispatcher, ...(signal ? { signal } : {}) });
    return `${res.statusCode} ${await res.body.text()}`;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? code : (error as Error).name; // a DOMException's code is a number
  }
}

/** A TCP server that accepts connections and `behaviour` decides what they get (nothing, garbage). */
async function rawServer(behaviour: (socket: Socket) => void): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    behaviour(socket);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as typeof server.close;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  tcpServers.push(server);
  const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  rawSockets.set(address, sockets);
  return address;
}

describe('a backend that lies to its health checks', () => {
  it('healthy on /healthz, 503 on real traffic: outlier detection ejects it anyway, and the checks do not bring it back', async () => {
    const liar = await startBackend({
      id: 'liar',
      handle: (req, res) => {
        res.statusCode = req.url === '/healthz' ? 200 : 503;
        res.end('liar');
      },
    });
    const honest = await startBackend({ id: 'honest' });
    servers.push(liar, honest);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [liar.address, honest.address] })],
      config: [
        destinationRule(
          { 'proxyless.dev/health-check': { interval: '20ms', jitter: 0, healthyThreshold: 1 } },
          { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 2, maxEjectionPercent: 50, interval: '10s', baseEjectionTime: '60s' } },
        ),
      ],
    });
    meshes.push(m);
    const liarState = () => m.services()[0]?.endpoints.find((e) => e.key === liar.address);
    for (let i = 0; i < 6 && liarState()?.available !== false; i++) await call(m);
    expect(liarState()?.available).toBe(false);
    // Its checks keep passing meanwhile; they must not undo the ejection.
    const checksBefore = liar.requests;
    await vi.waitFor(() => expect(liar.requests).toBeGreaterThanOrEqual(checksBefore + 3), { timeout: 5_000, interval: 10 });
    const answers = new Set<string>();
    for (let i = 0; i < 20; i++) answers.add(await call(m));
    expect(answers).toEqual(new Set(['200 honest']));
  });

  it('a health endpoint that streams without end is read only up to its limit, and the check ends', async () => {
    const streamer = await startBackend({
      id: 'streamer',
      handle: (req, res) => {
        if (req.url !== '/healthz') return void res.end('ok');
        res.writeHead(200);
        const chunk = Buffer.alloc(64 * 1024, 120);
        const pump = (): void => {
          while (!res.destroyed && res.write(chunk));
          if (!res.destroyed) res.once('drain', pump);
        };
        pump();
      },
    });
    servers.push(streamer);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [streamer.address] })],
      config: [destinationRule({ 'proxyless.dev/health-check': { interval: '20ms', jitter: 0, timeout: '2s' } })],
    });
    meshes.push(m);
    expect(await call(m)).toBe('200 ok');
    // Several checks complete (each drops the connection after 64 KB instead of buffering megabytes).
    await vi.waitFor(() => expect(streamer.requests).toBeGreaterThanOrEqual(4), { timeout: 5_000, interval: 10 });
    expect(m.services()[0]!.endpoints[0]!.available).toBe(true);
    expect(await call(m)).toBe('200 ok');
  });
});

const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

describe.skipIf(openssl.skip)(`endpoints that attack the TLS handshake${openssl.note}`, () => {
  let pki: TestPki;
  let ca: TestCa;
  beforeAll(() => {
    pki = testPki();
    ca = pki.ca('hostile test CA');
  });
  afterAll(() => pki.cleanup());

  it('a handshake that never completes fails the request at connectTimeout, and its health checks mark it unhealthy', async () => {
    const silent = await rawServer((socket) => socket.resume()); // reads the ClientHello, never answers
    const good = await startHttpsBackend({ identity: ca.leaf('api', ['DNS:api']) });
    servers.push(good);
    const m = createMesh({
      discovery: [staticEndpoints({ api: [silent] })],
      endpointPool: { connectTimeout: 200, tls: { ca: ca.cert } },
    });
    meshes.push(m);
    // Ended by the 200 ms connectTimeout given (the error says which timeout fired), not by
    // a default or a hang; no bound on the time taken, which a loaded machine would break.
    const error = await request('https://api/', { dispatcher: m.dispatcher }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect((error as Error).message).toMatch(/timeout: 200ms/);

    // Timeouts a loaded machine meets with ease on the good endpoint's handshakes and checks:
    // the silent one fails them whatever their length (short ones also failed the good one).
    const checked = createMesh({
      discovery: [staticEndpoints({ api: [silent, good.address] })],
      config: [destinationRule({ 'proxyless.dev/health-check': { interval: '20ms', jitter: 0, timeout: '2s' } })],
      endpointPool: { connectTimeout: 1_000, tls: { ca: ca.cert } },
    });
    meshes.push(checked);
    expect(await call(checked, 'https://api/')).toMatch(/^200 |UND_ERR_CONNECT_TIMEOUT/);
    await vi.waitFor(() => expect(checked.services()[0]!.endpoints.find((e) => e.key === silent)!.available).toBe(false), { timeout: 20_000, interval: 10 });
    for (let i = 0; i < 10; i++) expect(await call(checked, 'https://api/')).toBe('200 https');
  });

  it('a caller abort during a stalled handshake ends the request at once, and close() neither waits for the attempt nor leaves it running', async () => {
    const silent = await rawServer((socket) => socket.resume()); // reads (so it sees the close), never answers
    // Timeouts no test could wait out: only close() itself can end the attempt. (undici's
    // Pool.close() waits for every queued request, the aborted one included, so close()
    // took up to connectTimeout whatever closeGracePeriod said; its destroy() leaves the
    // socket connecting.)
    const m = createMesh({ discovery: [staticEndpoints({ api: [silent] })], endpointPool: { connectTimeout: 3_600_000 }, closeGracePeriod: 3_600_000 });
    meshes.push(m);
    const controller = new AbortController();
    const pending = call(m, 'https://api/', controller.signal);
    await vi.waitFor(() => expect(rawSockets.get(silent)!.size).toBe(1), { timeout: 10_000, interval: 5 }); // the handshake has begun
    controller.abort();
    expect(await pending).toMatch(/Abort/);
    expect(m.dispatcher.inFlight).toBe(0);
    await m.close();
    // The attempt was ended, not left to run out its timeout.
    await vi.waitFor(() => expect(rawSockets.get(silent)!.size).toBe(0), { timeout: 10_000, interval: 5 });
  });

  it('garbage instead of a ServerHello fails at once with a TLS error, never as plain HTTP', async () => {
    const garbage = await rawServer((socket) => socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok')));
    const m = createMesh({ discovery: [staticEndpoints({ api: [garbage] })], endpointPool: { tls: { ca: ca.cert } } });
    meshes.push(m);
    const outcome = await call(m, 'https://api/');
    expect(outcome).not.toMatch(/^200/);
    expect(outcome).toMatch(/SSL|TLS|ECONNRESET|UND_ERR_SOCKET/);
  });
});

describe('reloads that flip breaker and health-check settings under traffic', () => {
  it('lose no request and leave no timer behind', async () => {
    tracker = trackTimers();
    const backend = await startBackend({ id: 'api' });
    servers.push(backend);
    const flips = [
      destinationRule({ 'proxyless.dev/circuit-breaker': { volumeThreshold: 5 }, 'proxyless.dev/health-check': { interval: '5ms', jitter: 0 } }),
      destinationRule({}),
      destinationRule({ 'proxyless.dev/circuit-breaker': { volumeThreshold: 50, resetTimeout: '1s' } }),
      destinationRule({ 'proxyless.dev/health-check': { interval: '7ms', jitter: 0.5 } }),
      destinationRule({ 'proxyless.dev/circuit-breaker': { volumeThreshold: 5 }, 'proxyless.dev/health-check': { interval: '5ms', jitter: 0 } }, { outlierDetection: { interval: '10ms' } }),
    ];
    const m = createMesh({ discovery: [staticEndpoints({ api: [backend.address] })], config: [flips[0]!] });
    let stop = false;
    const outcomes: string[] = [];
    const worker = async (): Promise<void> => {
      while (!stop) outcomes.push(await call(m));
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 100; i++) {
      m.applyConfig([flips[i % flips.length]!]);
      await new Promise((resolve) => setImmediate(resolve)); // let requests run between reloads
    }
    // Of the breakers and health checkers made by 100 reloads, only the current ones run.
    const running = tracker.live(MESH_TIMERS).length;
    expect(running).toBeLessThanOrEqual(4);
    stop = true;
    await Promise.all(workers);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o !== '200 api')).toEqual([]);
    await m.close();
    expect(tracker.live(MESH_TIMERS)).toEqual([]);
  });
});
