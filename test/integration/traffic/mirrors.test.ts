// Mirrors are fire and forget (Envoy's shadowing): no retries, no hedging, a timeout of
// their own, and closing the mesh ends them within its grace period.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, staticEndpoints, withDeadline, type Mesh, type MeshOptions } from 'proxyless';
import { startHeldServer, type Arrival, type HeldServer } from '../../helpers/held-server.js';

const servers: HeldServer[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function held(options: Parameters<typeof startHeldServer>[0] = {}): Promise<HeldServer> {
  const s = await startHeldServer(options);
  servers.push(s);
  return s;
}

/** Answers 503 with Retry-After: 1 the first time it sees a path, 200 after. */
function busyOnce(): (a: Arrival) => void {
  const seen = new Set<string>();
  return (a) => {
    const first = !seen.has(a.url);
    seen.add(a.url);
    a.req.resume();
    a.res.writeHead(first ? 503 : 200, first ? { 'retry-after': '1' } : {});
    a.res.end(first ? 'busy' : 'ok');
  };
}

function mirrorMesh(main: HeldServer, shadow: HeldServer[], http: string, annotations = '', extra: MeshOptions = {}): Mesh {
  const m = createMesh({
    discovery: [staticEndpoints({ api: [main.address], shadow: shadow.map((s) => s.address) })],
    config: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
${annotations}spec:
  hosts: [api]
  http:
${http}`,
    ...extra,
  });
  meshes.push(m);
  return m;
}

const mirrored = (policy: string) => `  - match: [{ uri: { prefix: /m } }]
    ${policy}
    route: [{ destination: { host: api } }]
    mirror: { host: shadow }
    mirrorPercentage: { value: 100 }
  - retries: { attempts: 2, retryOn: "503" }
    route: [{ destination: { host: api } }]
`;

const send = (m: Mesh, path: string) => request(`http://api${path}`, { dispatcher: m.dispatcher }).then(async (r) => ({ status: r.statusCode, body: await r.body.text() }));

describe('mirrors', () => {
  it("are not retried, whatever the route's retries", async () => {
    const main = await held({ answer: busyOnce() });
    const shadow = await held({ answer: busyOnce() });
    const m = mirrorMesh(main, [shadow], mirrored('retries: { attempts: 3, retryOn: "503" }'));
    expect(await send(m, '/m1')).toEqual({ status: 200, body: 'ok' }); // retried once after Retry-After
    await shadow.arrival(0);
    // A later call retried after the same Retry-After: a retry of the copy would come first.
    expect(await send(m, '/sync')).toEqual({ status: 200, body: 'ok' });
    expect(shadow.arrivals.map((a) => a.url)).toEqual(['/m1']);
  });

  it('are not hedged, whatever the route says', async () => {
    const main = await held({ answer: busyOnce() });
    const shadows = [await held({ hold: () => true }), await held({ hold: () => true })];
    const hedging = `  annotations:\n    proxyless.dev/hedging: '{"delay": "50ms", "maxExtraPercent": 100}'\n`;
    const m = mirrorMesh(main, shadows, mirrored(''), hedging, { closeGracePeriod: 100 });
    // GETs under the hedging annotation; the main answer is quick, the shadow never answers.
    const first = send(m, '/m1');
    await Promise.race(shadows.map((s) => s.arrival(0)));
    await first.catch(() => undefined);
    // A 1 s Retry-After later: a 50 ms hedge backup of the copy would have been sent by then.
    await send(m, '/sync');
    expect(shadows[0]!.arrivals.length + shadows[1]!.arrivals.length).toBe(1);
  });

  it("keep the route's timeout as their own and ignore the deadline of the request being served", async () => {
    const main = await held({ hold: (a) => a.url === '/slow' });
    const shadow = await held({ hold: () => true });
    const m = mirrorMesh(main, [shadow], mirrored('timeout: 5s'), '', { closeGracePeriod: 100 });
    await withDeadline(1000, () => send(m, '/m1'));
    const copy = await shadow.arrival(0);
    // A later call under the same 1 s deadline runs out: the copy's deadline, had it one, ran out first.
    await expect(withDeadline(1000, () => send(m, '/slow'))).rejects.toMatchObject({ code: 'PROXYLESS_ERR_DEADLINE_EXCEEDED' });
    expect(copy.res.closed).toBe(false);
    expect(copy.req.headers['x-envoy-expected-rq-timeout-ms']).toBe('5000');
    // Closing the mesh ends it within the grace period.
    await m.close();
    await shadow.closed(0);
  });

  it('a copy the shadow never answers does not hold close() past its grace period', async () => {
    const main = await held();
    const shadow = await held({ hold: () => true });
    const m = mirrorMesh(main, [shadow], mirrored(''), '', { closeGracePeriod: 100 });
    expect(await send(m, '/m1')).toEqual({ status: 200, body: 'ok' });
    await shadow.arrival(0);
    await m.close();
    await shadow.closed(0);
    expect(m.dispatcher.inFlight).toBe(0);
  }, 5000);
});
