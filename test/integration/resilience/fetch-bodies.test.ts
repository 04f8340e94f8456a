// Request bodies that undici's fetch hands the dispatcher as streams (every fetch body,
// strings included): retried when provably unsent, replayed from the mesh's copy when
// they fit in requestBufferLimit, hedged and mirrored like any other body.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createMesh, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { closeAll, startBackend, type Backend } from '../../helpers/backends.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

async function backend(id: string, handle?: (req: IncomingMessage, res: ServerResponse, b: Backend) => void, delayMs = 0): Promise<Backend> {
  const b = await startBackend({ id, delayMs, ...(handle ? { handle } : {}) });
  servers.push(b);
  return b;
}

/**
 * An address nothing listens on. Port 1 needs privileges to listen on, so no other test
 * can own it (a port freed by closing a server could be taken by a server of a test
 * running in parallel, which would then receive this test's requests).
 */
const DEAD_ADDRESS = '127.0.0.1:1';

/** Retries on a reset (Istio's default retryOn has no `reset`: a reset may follow a request the server acted on). */
const retryOnReset = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - retries: { attempts: 2, retryOn: reset }
    route: [{ destination: { host: api } }]
`;

function mesh(services: Record<string, string[]>, config: string[] = [], extra: MeshOptions = {}): Mesh {
  const m = createMesh({ discovery: [staticEndpoints(services)], config, ...extra });
  meshes.push(m);
  return m;
}

const roundRobin = (host: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${host} }
spec: { host: ${host}, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }`;

/** Answers with the body it read (after `before(n)` had its say on the nth request). */
const echoBody = (before?: (n: number, req: IncomingMessage) => boolean) => (req: IncomingMessage, res: ServerResponse, b: Backend) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (before?.(b.requests, req)) return;
    res.end(`${b.id}:${Buffer.concat(chunks).toString()}`);
  });
};

describe('fetch bodies', () => {
  it('a PUT with a string body is retried on connect failure (nothing was sent), whatever its size', async () => {
    const live = await backend('live', echoBody());
    const m = mesh({ api: [DEAD_ADDRESS, live.address] }, [roundRobin('api')], { requestBufferLimit: 8 });
    const body = 'x'.repeat(1000); // larger than the buffer: still unread when the connection failed
    for (let i = 0; i < 4; i++) {
      const res = await m.fetch('http://api/', { method: 'PUT', body });
      expect(await res.text()).toBe(`live:${body}`);
    }
    expect(live.requests).toBe(4);
    // The dead endpoint was tried (round robin) and failed to connect.
    expect(m.services()[0]!.endpoints.reduce((sum, e) => sum + e.failures, 0)).toBeGreaterThan(0);
  });

  it('a PUT reset after its body was read is sent again from the mesh copy (within requestBufferLimit)', async () => {
    const flaky = await backend(
      'flaky',
      echoBody((n, req) => {
        if (n > 1) return false;
        req.socket.destroy(); // the body arrived, then the connection broke: maybe acted on
        return true;
      }),
    );
    const m = mesh({ api: [flaky.address] }, [retryOnReset]);
    const res = await m.fetch('http://api/', { method: 'PUT', body: 'payload' });
    expect(await res.text()).toBe('flaky:payload');
    expect(flaky.requests).toBe(2);
  });

  it('a body larger than requestBufferLimit is not sent again once part of it was sent', async () => {
    const resetAll = await backend('reset-all', (req) => {
      req.on('data', () => {});
      req.on('end', () => req.socket.destroy());
    });
    const m = mesh({ api: [resetAll.address] }, [retryOnReset], { requestBufferLimit: 8 });
    const error = await m.fetch('http://api/', { method: 'PUT', body: 'x'.repeat(1000) }).catch((e: unknown) => e);
    const cause = (error as { cause?: Error & { retry?: { stoppedBecause: string } } }).cause;
    expect(cause?.retry?.stoppedBecause).toMatch(/requestBufferLimit/);
    expect(resetAll.requests).toBe(1);
  });

  it('a hedged PUT with a fetch body sends the same body in its backup', async () => {
    const slow = await backend('slow', (req) => req.resume()); // never answers: only backups can
    const fast = await backend('fast', echoBody());
    const hedged = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '{"delay": "30ms", "maxExtraPercent": 100}'
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
`;
    const m = mesh({ api: [slow.address, fast.address] }, [hedged, roundRobin('api')]);
    const answers = [];
    for (let i = 0; i < 2; i++) answers.push(await (await m.fetch('http://api/', { method: 'PUT', body: `body-${i}` })).text());
    // Round robin sent one of the two to the slow backend first: its backup carried the body.
    expect(answers).toEqual(['fast:body-0', 'fast:body-1']);
    expect(slow.requests).toBeGreaterThanOrEqual(1);
  });

  it('a fetch body is mirrored once the request has read it', async () => {
    const main = await backend('main', echoBody());
    let shadowSaw!: (copy: { host: string; body: string }) => void;
    const mirroredCopy = new Promise<{ host: string; body: string }>((resolve) => (shadowSaw = resolve));
    const shadow = await backend('shadow', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        shadowSaw({ host: req.headers.host ?? '', body: Buffer.concat(chunks).toString() });
        res.end();
      });
    });
    const mirrored = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
    mirror: { host: shadow }
    mirrorPercentage: { value: 100 }
`;
    const m = mesh({ api: [main.address], shadow: [shadow.address] }, [mirrored]);
    expect(await (await m.fetch('http://api/', { method: 'PUT', body: 'copy me' })).text()).toBe('main:copy me');
    expect(await mirroredCopy).toEqual({ host: 'api-shadow', body: 'copy me' });
  });
});
