// One route with every request-path feature at once (a fault delay, retries, hedging and a
// mirror), and the caller aborting at each stage. Each layer was tested alone; here the
// seams: the caller must hear its abort at once, and afterwards nothing may stay counted
// in flight, on the dispatcher or on any service (a service with requests in flight is
// never evicted, so a leaked count would pin it in the table for ever).
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, ForwardingHandler, layer, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { settledNow, startHeldServer, type Arrival, type HeldServer } from '../helpers/held-server.js';
import { Progress } from '../helpers/wait.js';

const servers: HeldServer[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const config = (delay: string, hedgeDelay: string) => [
  `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '{"delay": "${hedgeDelay}", "maxExtraPercent": 100}'
spec:
  hosts: [api]
  http:
  - fault: { delay: { fixedDelay: ${delay}, percentage: { value: 100 } } }
    retries: { attempts: 2, retryOn: "503" }
    mirror: { host: shadow }
    route: [{ destination: { host: api } }]
`,
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
`,
];

/** Two replicas and a shadow, all holding /held* requests until the test answers them; /503 answers 503 once per path. */
async function setUp(delay = '20ms', extra: Partial<MeshOptions> = {}, hedgeDelay = '30ms'): Promise<{ mesh: Mesh; api: HeldServer[]; shadow: HeldServer; arrived: Progress; all: () => Arrival[] }> {
  const arrived = new Progress();
  const seen = new Set<string>();
  const options = {
    hold: (a: Arrival) => {
      arrived.notify();
      return a.url.startsWith('/held');
    },
    answer: (a: Arrival) => {
      const first = a.url.startsWith('/503') && !seen.has(a.url);
      seen.add(a.url);
      a.res.statusCode = first ? 503 : 200;
      a.res.end(first ? 'busy' : 'ok');
    },
  };
  const api = [await startHeldServer(options), await startHeldServer(options)];
  const shadow = await startHeldServer(options);
  servers.push(...api, shadow);
  const mesh = createMesh({
    discovery: [staticEndpoints({ api: api.map((s) => s.address), shadow: [shadow.address] })],
    config: config(delay, hedgeDelay),
    closeGracePeriod: 2000,
    ...extra,
  });
  meshes.push(mesh);
  return { mesh, api, shadow, arrived, all: () => [...api, shadow].flatMap((s) => s.arrivals) };
}

async function abortNow(controller: AbortController, pending: Promise<unknown>): Promise<void> {
  const reason = new Error('the caller gave up');
  controller.abort(reason);
  expect(await settledNow(pending)).toEqual({ settled: true, error: reason });
}

/** Answers every held request, then checks that nothing is counted in flight anywhere. */
async function expectNothingInFlight(t: Awaited<ReturnType<typeof setUp>>): Promise<void> {
  for (const a of t.all()) if (!a.res.writableEnded && !a.res.destroyed) a.res.end('late');
  // One more round trip per replica and to the shadow: whatever was pending has ended before it.
  const done = new Progress();
  let finished = 0;
  for (let i = 0; i < 2; i++) {
    void request('http://api/after', { dispatcher: t.mesh.dispatcher }).then((r) => r.body.text()).then(() => {
      finished++;
      done.notify();
    });
  }
  await done.until('the follow-up requests', () => finished === 2);
  const busy = new Progress();
  const timer = setInterval(() => busy.notify(), 5); // mirrors end on their own: look again until they have
  try {
    await busy.until('every service idle', () => t.mesh.services().every((s) => s.inFlight === 0));
  } finally {
    clearInterval(timer);
  }
  expect(t.mesh.dispatcher.inFlight).toBe(0);
  expect(t.mesh.serviceStats().busy).toBe(0);
}

describe('fault delay + retries + hedging + mirror on one route, the caller aborting at each stage', { timeout: 20_000 }, () => {
  it('during the fault delay: nothing is sent, not even the mirror copy', async () => {
    const t = await setUp('200ms');
    const controller = new AbortController();
    const pending = request('http://api/held-x', { dispatcher: t.mesh.dispatcher, signal: controller.signal });
    await abortNow(controller, pending);
    await expectNothingInFlight(t);
    expect(t.all().filter((a) => a.url === '/held-x')).toEqual([]);
  });

  it('with the primary in flight, before the backup: the backup is never sent', async () => {
    const t = await setUp();
    const controller = new AbortController();
    const pending = request('http://api/held-y', { dispatcher: t.mesh.dispatcher, signal: controller.signal });
    await t.arrived.until('the primary', () => t.api.some((s) => s.arrivals.some((a) => a.url === '/held-y')));
    await abortNow(controller, pending);
    await expectNothingInFlight(t);
    expect(t.api.flatMap((s) => s.arrivals).filter((a) => a.url === '/held-y')).toHaveLength(1);
  });

  it('with the primary and the backup in flight: both end', async () => {
    const t = await setUp();
    const controller = new AbortController();
    const pending = request('http://api/held-z', { dispatcher: t.mesh.dispatcher, signal: controller.signal });
    await t.arrived.until('both tries', () => t.api.every((s) => s.arrivals.some((a) => a.url === '/held-z')));
    await abortNow(controller, pending);
    await Promise.all(t.api.map((s) => s.closed(s.arrivals.findIndex((a) => a.url === '/held-z'))));
    await expectNothingInFlight(t);
  });

  it('in the retry backoff after a 503: the retry never goes out', async () => {
    let tryEnded!: () => void;
    const firstTryEnded = new Promise<void>((resolve) => (tryEnded = resolve));
    // A layer below `retry` sees each try end; the backoff timer starts right after.
    const observe = layer('observe-try', (next) => (opts, handler) =>
      next(opts, new (class extends ForwardingHandler {
        override onResponseEnd(...args: Parameters<ForwardingHandler['onResponseEnd']>): void {
          super.onResponseEnd(...args);
          tryEnded();
        }
      })(handler)));
    // Hedging stays on the route, but its backup must not race the 503: with the usual
    // 30 ms, a try slowed past it on a loaded machine sent a backup before the backoff.
    const t = await setUp('20ms', { stacks: { service: (stack) => void stack.insertAfter('retry', observe) } }, '10s');
    const controller = new AbortController();
    const pending = request('http://api/503-a', { dispatcher: t.mesh.dispatcher, signal: controller.signal });
    await firstTryEnded;
    await abortNow(controller, pending);
    await expectNothingInFlight(t);
    expect(t.api.flatMap((s) => s.arrivals).filter((a) => a.url === '/503-a')).toHaveLength(1);
  });
});
