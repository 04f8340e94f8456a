import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getGlobalDispatcher, MockAgent, setGlobalDispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthChecker, type HealthCheckTimers } from '../../src/policy/health-check/index.js';
import { healthCheckSettings, type HealthCheckSpec } from '../../src/config/settings/index.js';
import { Progress } from '../helpers/wait.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** How a health server answers: with `status`, or not at all (`hang`). */
type Mode = { status: number } | 'hang';

/** A real node:http server on 127.0.0.1 whose answers a test changes while it runs, and that can stop and listen again on its port. */
interface HealthServer {
  readonly port: number;
  mode: Mode;
  /** Requests seen, oldest first. */
  readonly requests: Array<{ method: string; url: string; host: string; userAgent: string }>;
  /** Requests held without an answer (in `hang` mode) so far. */
  held: number;
  /** Connections open now. */
  connections(): number;
  /** Stops listening and drops every connection: new connections are refused. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
}

const servers: HealthServer[] = [];

async function startHealthServer(mode: Mode = { status: 200 }): Promise<HealthServer> {
  const sockets = new Set<Socket>();
  const hung = new Set<ServerResponse>();
  let server!: Server;
  let port = 0;
  const listen = async (): Promise<void> => {
    server = createServer((req, res) => {
      health.requests.push({ method: req.method ?? '', url: req.url ?? '', host: req.headers.host ?? '', userAgent: req.headers['user-agent'] ?? '' });
      changed.notify();
      if (health.mode === 'hang') {
        hung.add(res);
        res.on('close', () => hung.delete(res));
        health.held++;
        changed.notify();
        return;
      }
      res.statusCode = health.mode.status;
      res.end(req.method === 'HEAD' ? undefined : 'health');
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        changed.notify();
      });
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  const health: HealthServer = {
    get port() {
      return port;
    },
    mode,
    requests: [],
    held: 0,
    connections: () => sockets.size,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    restart: listen,
  };
  await listen();
  servers.push(health);
  return health;
}

/** An endpoint as the mesh would hand it over. */
class Endpoint {
  healthy = true;
  readonly key: string;
  readonly address = '127.0.0.1';
  constructor(readonly port: number) {
    this.key = `127.0.0.1:${port}`;
  }
}

/** Real timers that remember which are still pending, and how many were ever set. */
function trackedTimers(): HealthCheckTimers & { pending: Set<unknown>; created(): number } {
  const pending = new Set<unknown>();
  let created = 0;
  return {
    pending,
    created: () => created,
    setTimeout(callback, ms) {
      created++;
      const handle = setTimeout(() => {
        pending.delete(handle);
        callback();
      }, ms);
      pending.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      pending.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  };
}

// The servers here answer at once unless a test makes them hang, so the timeout is long: a
// short one also fails checks a server did answer, whenever a loaded machine stalls this
// process for longer (timers run before the I/O that waited).
const FAST: HealthCheckSpec = { interval: '40ms', jitter: 0.1, timeout: '10s', healthyThreshold: 2, unhealthyThreshold: 2 };

function checker(spec: HealthCheckSpec = {}, timers?: HealthCheckTimers) {
  const changes: Array<[string, boolean]> = [];
  const hc = new HealthChecker<Endpoint>({
    settings: healthCheckSettings({ ...FAST, ...spec }, 'test'),
    service: 'reviews.default.svc.cluster.local',
    onChange: (endpoint, healthy) => {
      changes.push([endpoint.key, healthy]);
      changed.notify();
    },
    timers,
  });
  return { hc, changes, status: (key: string) => hc.status().find((s) => s.key === key)! };
}

/**
 * Real timers, except that a check's timeout (a timer of `timeoutMs`) starts counting only
 * once `server` holds that check without answering: the timeout then fails exactly the
 * checks that got no answer, however long this process stalls (on a stalled machine a
 * plain timer can fire before the answer that arrived meanwhile is read).
 */
function timeoutOnceHeld(server: HealthServer, timeoutMs: number): HealthCheckTimers {
  interface Gate {
    timer: ReturnType<typeof setTimeout> | undefined;
    cleared: boolean;
  }
  const gates = new Set<Gate>();
  return {
    setTimeout(callback, ms) {
      if (ms !== timeoutMs) return setTimeout(callback, ms);
      const gate: Gate = { timer: undefined, cleared: false };
      gates.add(gate);
      const held = server.held;
      void changed.until('the check to be held by the server', () => gate.cleared || server.held > held).then(() => {
        if (!gate.cleared) gate.timer = setTimeout(callback, ms);
      });
      return gate;
    },
    clearTimeout(handle) {
      if (!gates.delete(handle as Gate)) return clearTimeout(handle as ReturnType<typeof setTimeout>);
      const gate = handle as Gate;
      gate.cleared = true;
      clearTimeout(gate.timer);
      changed.notify();
    },
  };
}

/** Told when a health server gets a request or loses a connection, and on every onChange. */
const changed = new Progress();

/**
 * Waits until `condition` stops throwing, checked again at each of those events. A
 * check's result is recorded before the next check is sent, so it is seen at the latest
 * when the next check arrives. On the guard, fails with the condition's own error.
 */
const until = (condition: () => void): Promise<void> => {
  const holds = (): boolean => {
    try {
      condition();
      return true;
    } catch {
      return false;
    }
  };
  return changed.until('a health check condition', holds).catch((error: unknown) => {
    condition();
    throw error;
  });
};

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop().catch(() => undefined)));
});

describe('HealthChecker against real HTTP servers', () => {
  it('a server answering 500 turns unhealthy after unhealthyThreshold checks and healthy again after healthyThreshold 200s', async () => {
    const server = await startHealthServer();
    const { hc, changes, status } = checker();
    const endpoint = new Endpoint(server.port);
    hc.setEndpoints([endpoint]);
    await until(() => expect(status(endpoint.key).consecutivePasses).toBeGreaterThanOrEqual(2));
    expect(server.requests[0]).toEqual({
      method: 'GET',
      url: '/healthz',
      host: 'reviews.default.svc.cluster.local',
      userAgent: 'proxyless-health-check',
    });

    server.mode = { status: 500 };
    await until(() => expect(endpoint.healthy).toBe(false));
    expect(status(endpoint.key)).toMatchObject({ consecutiveFailures: 2, lastResult: 'status 500 (expected 200-399)' });
    expect(changes).toEqual([[endpoint.key, false]]);

    server.mode = { status: 302 }; // 3xx passes by default (not followed)
    await until(() => expect(endpoint.healthy).toBe(true));
    expect(status(endpoint.key)).toMatchObject({ consecutivePasses: 2, lastResult: 'status 302' });
    expect(changes).toEqual([
      [endpoint.key, false],
      [endpoint.key, true],
    ]);
    await hc.close();
  });

  it('a server that stops answering is failed by the timeout, and recovers when it answers again', async () => {
    const server = await startHealthServer();
    const { hc, changes, status } = checker({ timeout: '100ms' }, timeoutOnceHeld(server, 100));
    const endpoint = new Endpoint(server.port);
    hc.setEndpoints([endpoint]);
    await until(() => expect(status(endpoint.key).checks).toBeGreaterThanOrEqual(1));

    server.mode = 'hang';
    const answered = server.requests.length;
    await until(() => expect(endpoint.healthy).toBe(false));
    // Two checks reached the server, got no answer and were failed by the timeout (when
    // exactly the timeout fires is checked on fake timers in test/unit/policy/health-check.test.ts).
    expect(server.requests.length - answered).toBeGreaterThanOrEqual(2);
    expect(server.held).toBeGreaterThanOrEqual(2);
    expect(status(endpoint.key)).toMatchObject({ consecutiveFailures: 2, lastResult: 'timed out after 100 ms' });

    server.mode = { status: 200 };
    await until(() => expect(endpoint.healthy).toBe(true));
    expect(changes).toEqual([
      [endpoint.key, false],
      [endpoint.key, true],
    ]);
    await hc.close();
  });

  it('a closed server (connection refused) turns unhealthy, and healthy again once it listens on the same port', async () => {
    const server = await startHealthServer();
    const { hc, changes, status } = checker();
    const endpoint = new Endpoint(server.port);
    hc.setEndpoints([endpoint]);
    await until(() => expect(status(endpoint.key).checks).toBeGreaterThanOrEqual(1));

    await server.stop();
    await until(() => expect(endpoint.healthy).toBe(false));
    expect(status(endpoint.key).lastResult).toMatch(/ECONNREFUSED/);

    await server.restart();
    await until(() => expect(endpoint.healthy).toBe(true));
    expect(changes).toEqual([
      [endpoint.key, false],
      [endpoint.key, true],
    ]);
    await hc.close();
  });

  it('HEAD, a Host override and expectedStatuses apply; each endpoint is judged on its own', async () => {
    const good = await startHealthServer({ status: 204 });
    const bad = await startHealthServer({ status: 200 });
    const { hc, changes, status } = checker({ method: 'HEAD', host: 'health.internal:8080', path: '/ready', expectedStatuses: [204] });
    const a = new Endpoint(good.port);
    const b = new Endpoint(bad.port);
    hc.setEndpoints([a, b]);
    await until(() => expect(status(a.key).checks).toBeGreaterThanOrEqual(3));
    expect(a.healthy).toBe(true);
    expect(b.healthy).toBe(false); // the first check decides for a new endpoint
    expect(status(b.key).lastResult).toBe('status 200 (expected 204)');
    expect(changes).toEqual([[b.key, false]]);
    expect(good.requests[0]).toMatchObject({ method: 'HEAD', url: '/ready', host: 'health.internal:8080' });
    await hc.close();
  });

  it('checks go through their own undici Agent: a global dispatcher that refuses the network does not affect them', async () => {
    const server = await startHealthServer();
    const previous = getGlobalDispatcher();
    const mock = new MockAgent();
    mock.disableNetConnect();
    setGlobalDispatcher(mock);
    try {
      const { hc, status } = checker();
      const endpoint = new Endpoint(server.port);
      hc.setEndpoints([endpoint]);
      await until(() => expect(status(endpoint.key).consecutivePasses).toBeGreaterThanOrEqual(2));
      expect(endpoint.healthy).toBe(true);
      await hc.close();
    } finally {
      setGlobalDispatcher(previous);
      await mock.close();
    }
  });

  it('close() leaves no timer, no connection and no further check, even with a check in flight', async () => {
    const answering = await startHealthServer();
    const hanging = await startHealthServer('hang');
    const timers = trackedTimers();
    const { hc, status } = checker({ timeout: '5s' }, timers);
    hc.setEndpoints([new Endpoint(answering.port), new Endpoint(hanging.port)]);
    await until(() => {
      expect(status(`127.0.0.1:${answering.port}`).checks).toBeGreaterThanOrEqual(2);
      expect(hanging.requests.length).toBe(1); // its check waits for an answer that never comes
    });
    expect(timers.pending.size).toBe(2); // the answering one's next check, the hanging one's timeout

    const createdBeforeClose = timers.created();
    await hc.close();
    expect(timers.pending.size).toBe(0);
    await until(() => {
      expect(answering.connections()).toBe(0);
      expect(hanging.connections()).toBe(0);
    });
    // Every check is started by one of these timers: with none pending and none set since
    // close() (not even by the aborted check's end), no check can follow.
    expect(timers.created()).toBe(createdBeforeClose);
    expect(timers.pending.size).toBe(0);
  });

  it('never keeps a process alive: a process whose only other work ends exits while checks are still scheduled', async () => {
    const server = await startHealthServer();
    const dir = mkdtempSync(join(tmpdir(), 'proxyless-hc-'));
    try {
      const script = join(dir, 'main.ts');
      writeFileSync(
        script,
        [
          `import { HealthChecker } from ${JSON.stringify(join(root, 'src/policy/health-check/health-check.ts'))};`,
          `import { healthCheckSettings } from ${JSON.stringify(join(root, 'src/config/settings/health-check.ts'))};`,
          `const hc = new HealthChecker({ settings: healthCheckSettings({ interval: '30ms', jitter: 0, timeout: '10s' }, 'test'), service: 'reviews' });`,
          `hc.setEndpoints([{ key: '127.0.0.1:${server.port}', address: '127.0.0.1', port: ${server.port}, healthy: true }]);`,
          // Prints once 3 checks ran, then stops polling: only the checker's timers are left.
          `const poll = setInterval(() => { if (hc.status()[0].checks >= 3) { clearInterval(poll); console.log(JSON.stringify(hc.status())); } }, 5);`,
        ].join('\n'),
      );
      const stdout = await new Promise<string>((resolve, reject) => {
        execFile(
          join(root, 'node_modules/.bin/tsx'),
          [script],
          // A guard against a child that never exits, long enough for tsx to start on a loaded machine.
          { cwd: root, timeout: 40_000, env: { ...process.env, PATH: `${root}node_modules/.bin:${process.env.PATH ?? ''}`, NODE_OPTIONS: '' } },
          (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
        );
      });
      const [health] = JSON.parse(stdout) as Array<{ checks: number; healthy: boolean }>;
      expect(health!.checks).toBeGreaterThanOrEqual(3);
      expect(health!.healthy).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
