// The metrics recorder against the real OpenTelemetry metrics SDK (SDK 3), collected on
// demand by a test reader.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { metrics as metricsApi, type Attributes } from '@opentelemetry/api';
import type { Histogram as HistogramPoint } from '@opentelemetry/sdk-metrics';
import { HTTP_DURATION_BUCKETS, ISTIO_DURATION_BUCKETS, ISTIO_LABELS, METRICS, ResponseFlag } from 'proxyless/telemetry';
import { MetricsRecorder, type ServiceStateView } from '../../../src/telemetry/metrics-recorder.js';
import { errorTypeOf, MAX_ROUTES, UNKNOWN_PEER } from '../../../src/telemetry/service-metrics.js';
import { setOtelApiLoaderForTests } from '../../../src/telemetry/otel-api.js';
import { resolveWorkload } from '../../../src/telemetry/workload.js';
import { metricsSdk, spyingProvider } from '../../helpers/metrics-sdk.js';

const REVIEWS = 'reviews.bookinfo.svc.cluster.local';
const workload = resolveWorkload({ name: 'productpage-v1', namespace: 'bookinfo' }, { app: 'productpage', version: 'v1' }, 'bookinfo', {});

const recorders: MetricsRecorder[] = [];
function recorder(options: Parameters<typeof MetricsRecorder.create>[0]): MetricsRecorder {
  const r = MetricsRecorder.create({ workload, ...options })!;
  recorders.push(r);
  return r;
}

afterEach(() => {
  for (const r of recorders.splice(0)) r.close();
  setOtelApiLoaderForTests();
  metricsApi.disable();
  vi.useRealTimers();
});

describe('MetricsRecorder: which metrics each metricNames records', () => {
  it.each([
    ['otel', ['http.client.request.duration', 'proxyless.client.requests'], ['istio_requests_total', 'istio_request_duration_milliseconds']],
    ['istio', ['istio_requests_total', 'istio_request_duration_milliseconds'], ['http.client.request.duration', 'proxyless.client.requests']],
    ['both', ['http.client.request.duration', 'proxyless.client.requests', 'istio_requests_total', 'istio_request_duration_milliseconds'], []],
  ] as const)('%s', async (metricNames, present, absent) => {
    const sdk = metricsSdk();
    const service = recorder({ meterProvider: sdk.provider, metricNames }).service({ service: REVIEWS, port: 9080 });
    service.attempt('GET', 200, undefined, 0.012);
    service.call('reviews.v2', 200, 0, 12);
    service.retry('reviews.v2');
    const names = (await sdk.collect()).names();
    for (const name of present) expect(names).toContain(name);
    for (const name of absent) expect(names).not.toContain(name);
    // The mesh's own metrics are there in every mode.
    expect(names).toContain('proxyless.client.retries');
  });

  it('instruments carry the unit and description of their definitions, and the advised buckets', async () => {
    const sdk = metricsSdk();
    const service = recorder({ meterProvider: sdk.provider, metricNames: 'both' }).service({ service: REVIEWS, port: 9080 });
    service.attempt('GET', 200, undefined, 0.2);
    service.call(undefined, 200, 0, 200);
    const m = await sdk.collect();
    for (const def of [METRICS.clientDuration, METRICS.clientRequests, METRICS.istioRequests, METRICS.istioDuration]) {
      const descriptor = m.get(def.name).descriptor;
      expect(descriptor.unit).toBe(def.unit);
      expect(descriptor.description).toBe(def.description);
    }
    const seconds = m.points('http.client.request.duration')[0]!.value as HistogramPoint;
    expect(seconds.buckets.boundaries).toEqual(HTTP_DURATION_BUCKETS);
    const ms = m.points('istio_request_duration_milliseconds')[0]!.value as HistogramPoint;
    expect(ms.buckets.boundaries).toEqual(ISTIO_DURATION_BUCKETS);
    expect(ms.sum).toBe(200);
  });
});

describe('ServiceMetrics: what each record carries', () => {
  it('attempt: method, server address and port, status, error.type; nothing from the path', async () => {
    const sdk = metricsSdk();
    const service = recorder({ meterProvider: sdk.provider }).service({ service: REVIEWS, port: 9080 });
    service.attempt('GET', 200, undefined, 0.01);
    service.attempt('get', 503, '503', 0.02);
    service.attempt('POST', 0, 'ECONNREFUSED', 0.001);
    service.attempt('GET', 99999, undefined, 0.01);
    const points = (await sdk.collect()).points('http.client.request.duration').map((p) => p.attributes);
    expect(points).toEqual(
      expect.arrayContaining([
        { 'http.request.method': 'GET', 'server.address': REVIEWS, 'server.port': 9080, 'http.response.status_code': 200 },
        { 'http.request.method': '_OTHER', 'server.address': REVIEWS, 'server.port': 9080, 'http.response.status_code': 503, 'error.type': '503' },
        { 'http.request.method': 'POST', 'server.address': REVIEWS, 'server.port': 9080, 'error.type': 'ECONNREFUSED' },
        // A status out of range is no status at all.
        { 'http.request.method': 'GET', 'server.address': REVIEWS, 'server.port': 9080 },
      ]),
    );
    expect(points).toHaveLength(4);
  });

  it("call: proxyless.client.requests by service, route, status and Envoy's flags", async () => {
    const sdk = metricsSdk();
    const service = recorder({ meterProvider: sdk.provider }).service({ service: REVIEWS, port: 9080 });
    service.call('reviews.v2', 200, 0, 10);
    service.call('reviews.v2', 200, 0, 11);
    service.call('reviews.v2', 0, ResponseFlag.UF | ResponseFlag.URX, 30);
    service.call(undefined, 503, ResponseFlag.UO, 1);
    const m = await sdk.collect();
    expect(m.value('proxyless.client.requests', { 'proxyless.route': 'reviews.v2', 'http.response.status_code': 200 })).toBe(2);
    expect(m.value('proxyless.client.requests', { 'proxyless.response_flags': 'UF,URX' })).toBe(1);
    expect(m.points('proxyless.client.requests', { 'proxyless.response_flags': 'UO' })[0]!.attributes).toEqual({
      'proxyless.service': REVIEWS,
      'proxyless.route': 'default',
      'http.response.status_code': 503,
      'proxyless.response_flags': 'UO',
    });
  });

  it("call: Istio's labels, every one of them, from this workload and the peer's labels", async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider, metricNames: 'istio' });
    const service = r.service({ service: REVIEWS, port: 9080 });
    const peer = r.peer({ workload: 'reviews-v2', app: 'reviews', version: 'v2' }, REVIEWS);
    service.call('reviews.v2', 200, 0, 42, peer);
    service.call('reviews.v2', 0, ResponseFlag.UH, 1);
    const m = await sdk.collect();
    const [ok] = m.points('istio_requests_total', { response_code: '200' });
    expect(Object.keys(ok!.attributes).sort()).toEqual([...ISTIO_LABELS].sort());
    expect(ok!.attributes).toEqual({
      reporter: 'source',
      source_workload: 'productpage-v1',
      source_workload_namespace: 'bookinfo',
      source_principal: 'unknown',
      source_app: 'productpage',
      source_version: 'v1',
      source_canonical_service: 'productpage',
      source_canonical_revision: 'v1',
      source_cluster: 'unknown',
      destination_workload: 'reviews-v2',
      destination_workload_namespace: 'bookinfo',
      destination_principal: 'unknown',
      destination_app: 'reviews',
      destination_version: 'v2',
      destination_service: REVIEWS,
      destination_service_name: 'reviews',
      destination_service_namespace: 'bookinfo',
      destination_canonical_service: 'reviews',
      destination_canonical_revision: 'v2',
      destination_cluster: 'unknown',
      request_protocol: 'http',
      response_code: '200',
      grpc_response_status: '',
      response_flags: '-',
      connection_security_policy: 'unknown',
    });
    // No response: Istio's response_code is the status a sidecar answers with for the flags (UH: 503).
    expect(m.points('istio_requests_total', { response_code: '0' })).toEqual([]);
    expect(m.points('istio_requests_total', { response_code: '503' })[0]!.attributes).toMatchObject({ response_flags: 'UH', destination_workload: 'unknown' });
    expect((m.points('istio_request_duration_milliseconds', { response_code: '200' })[0]!.value as HistogramPoint).sum).toBe(42);
  });

  it('retries, stops, hedges, breaker refusals and ejections', async () => {
    const sdk = metricsSdk();
    const service = recorder({ meterProvider: sdk.provider }).service({ service: REVIEWS, port: 9080 });
    service.retry('r');
    service.retry('r');
    service.retryStopped('r', 'budget');
    service.retryStopped('r', 'attempts');
    service.hedge('r');
    service.hedgeWon('r');
    service.breakerRefusal();
    service.ejection();
    const m = await sdk.collect();
    expect(m.value('proxyless.client.retries', { 'proxyless.route': 'r' })).toBe(2);
    expect(m.value('proxyless.client.retries.stopped', { 'proxyless.retry.stop_reason': 'budget' })).toBe(1);
    expect(m.value('proxyless.client.retries.stopped', { 'proxyless.retry.stop_reason': 'attempts' })).toBe(1);
    expect(m.value('proxyless.client.hedges')).toBe(1);
    expect(m.value('proxyless.client.hedges.won')).toBe(1);
    expect(m.value('proxyless.circuit_breaker.refusals', { 'proxyless.service': REVIEWS })).toBe(1);
    expect(m.value('proxyless.outlier.ejections', { 'proxyless.service': REVIEWS })).toBe(1);
  });

  it('mesh events: discovery by source, config reloads, rejections and warnings', async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider });
    r.discoveryRefresh('static');
    r.discoveryRefresh('dns(10.0.0.10)');
    r.discoveryError('dns(10.0.0.10)');
    r.configApplied(2);
    r.configApplied(0);
    r.configRejected();
    const m = await sdk.collect();
    expect(m.value('proxyless.discovery.refreshes', { 'proxyless.discovery.source': 'static' })).toBe(1);
    expect(m.value('proxyless.discovery.errors', { 'proxyless.discovery.source': 'dns(10.0.0.10)' })).toBe(1);
    expect(m.value('proxyless.config.reloads')).toBe(2);
    expect(m.value('proxyless.config.warnings')).toBe(2);
    expect(m.value('proxyless.config.reloads.rejected')).toBe(1);
  });
});

describe('cardinality and allocation', () => {
  it('passthrough hosts past the bound are recorded as _OTHER, on every metric', async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider, maxPassthroughHosts: 3, metricNames: 'both' });
    for (const host of ['a.example', 'b.example', 'c.example', 'd.example', 'e.example']) {
      const service = r.service({ service: host, port: 443, passthrough: true });
      service.attempt('GET', 200, undefined, 0.01);
      service.call(undefined, 200, 0, 10);
    }
    const m = await sdk.collect();
    const addresses = m.points('http.client.request.duration').map((p) => p.attributes['server.address']);
    expect(addresses.sort()).toEqual(['_OTHER', 'a.example', 'b.example', 'c.example']);
    expect(m.value('proxyless.client.requests', { 'proxyless.service': '_OTHER' })).toBe(2);
    expect(m.points('istio_requests_total', { destination_service: 'unknown' })[0]!.attributes).toMatchObject({
      destination_service_name: 'PassthroughCluster',
      destination_service_namespace: 'unknown',
    });
  });

  it('routes, error types and peers are bounded per service', async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider, metricNames: 'both' });
    const service = r.service({ service: REVIEWS, port: 9080 });
    for (let i = 0; i < MAX_ROUTES + 50; i++) service.call(`route-${i}`, 200, 0, 1);
    for (let i = 0; i < 100; i++) service.attempt('GET', 0, `CODE_${i}`, 0.001);
    for (let i = 0; i < 100; i++) service.call('r', 200, 0, 1, r.peer({ workload: `w${i}` }, REVIEWS));
    const m = await sdk.collect();
    const routes = new Set(m.points('proxyless.client.requests').map((p) => p.attributes['proxyless.route']));
    expect(routes.size).toBe(MAX_ROUTES + 1); // the admitted routes and _OTHER (where 'r', past the bound, lands too)
    expect(routes.has('_OTHER')).toBe(true);
    expect(new Set(m.points('http.client.request.duration').map((p) => p.attributes['error.type'])).size).toBe(32 + 1);
    expect(new Set(m.points('istio_requests_total').map((p) => p.attributes.destination_workload)).size).toBeLessThanOrEqual(16 + 1);
  });

  it('recording the same values again passes the same attribute objects: nothing is built per request', async () => {
    const sdk = metricsSdk();
    const seen: Attributes[] = [];
    const r = recorder({ meterProvider: spyingProvider(sdk.provider, seen), metricNames: 'both' });
    const service = r.service({ service: REVIEWS, port: 9080 });
    const peer = r.peer({ workload: 'reviews-v1' }, REVIEWS);
    const once = () => {
      service.attempt('GET', 200, undefined, 0.01);
      service.call('r', 200, ResponseFlag.DI, 10, peer);
      service.retry('r');
      service.hedge('r');
      service.retryStopped('r', 'attempts');
    };
    once();
    const first = seen.splice(0);
    for (let i = 0; i < 1000; i++) once();
    expect(first.length).toBeGreaterThan(0);
    expect(seen).toHaveLength(1000 * first.length);
    for (let i = 0; i < seen.length; i++) expect(seen[i]).toBe(first[i % first.length]);
    expect((await sdk.collect()).value('proxyless.client.requests')).toBe(1001);
  });

  it('the peer identity is interned, and past 256 identities it is the unknown peer', () => {
    const r = recorder({ meterProvider: metricsSdk().provider });
    expect(r.peer({ workload: 'a', version: 'v1' }, REVIEWS)).toBe(r.peer({ version: 'v1', workload: 'a' }, REVIEWS));
    expect(r.peer({}, REVIEWS)).toBe(UNKNOWN_PEER);
    for (let i = 0; i < 300; i++) r.peer({ workload: `w${i}` }, REVIEWS);
    expect(r.peer({ workload: 'one-more' }, REVIEWS)).toBe(UNKNOWN_PEER);
  });
});

describe('state gauges', () => {
  const view = (): ServiceStateView[] => [
    {
      service: REVIEWS,
      breaker: 'half-open',
      endpoints: [
        { address: '10.0.0.5', port: 9080, state: 'healthy', pending: 3, peakEwmaSeconds: 0.012 },
        { address: '10.0.0.6', port: 9080, state: 'ejected', pending: 0, peakEwmaSeconds: 0.5 },
        { address: '10.0.0.7', port: 9080, state: 'draining', pending: 1, peakEwmaSeconds: undefined },
      ],
    },
  ];

  it('are sampled at collection: endpoints by state, ejected, pending, Peak EWMA, breaker state', async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider });
    let calls = 0;
    r.observe(() => {
      calls++;
      return view();
    });
    expect(calls).toBe(0);
    const m = await sdk.collect();
    expect(calls).toBe(1);
    expect(m.value('proxyless.endpoints', { 'proxyless.endpoint.state': 'healthy' })).toBe(1);
    expect(m.value('proxyless.endpoints', { 'proxyless.endpoint.state': 'unhealthy' })).toBe(0);
    expect(m.value('proxyless.outlier.ejected_endpoints', { 'proxyless.service': REVIEWS })).toBe(1);
    expect(m.value('proxyless.endpoint.pending_requests', { 'network.peer.address': '10.0.0.5' })).toBe(3);
    expect(m.value('proxyless.endpoint.peak_ewma', { 'network.peer.address': '10.0.0.6', 'network.peer.port': 9080 })).toBe(0.5);
    expect(m.points('proxyless.endpoint.peak_ewma', { 'network.peer.address': '10.0.0.7' })).toHaveLength(0);
    expect(m.value('proxyless.circuit_breaker.state', { 'proxyless.circuit_breaker.state': 'half_open' })).toBe(1);
    expect(m.value('proxyless.circuit_breaker.state', { 'proxyless.circuit_breaker.state': 'open' })).toBe(0);
  });

  it('a state source that throws costs the sample, not the collection', async () => {
    const sdk = metricsSdk();
    recorder({ meterProvider: sdk.provider }).observe(() => {
      throw new Error('boom');
    });
    await expect(sdk.collect()).resolves.toBeDefined();
  });

  it('close() stops the sampling', async () => {
    const sdk = metricsSdk();
    const r = recorder({ meterProvider: sdk.provider });
    r.observe(view);
    r.close();
    expect((await sdk.collect()).names()).not.toContain('proxyless.endpoints');
  });
});

describe('the global meter provider', () => {
  it('a provider registered after the recorder was made is picked up within a second, gauges included', async () => {
    vi.useFakeTimers();
    const r = recorder({});
    r.observe(() => [{ service: REVIEWS, breaker: undefined, endpoints: [] }]);
    const service = r.service({ service: REVIEWS, port: 9080 });
    service.call(undefined, 200, 0, 1); // before any SDK: the API's no-op
    const sdk = metricsSdk();
    expect(metricsApi.setGlobalMeterProvider(sdk.provider)).toBe(true);
    vi.advanceTimersByTime(1000);
    service.call(undefined, 200, 0, 1);
    const m = await sdk.collect();
    expect(m.value('proxyless.client.requests')).toBe(1);
    expect(m.value('proxyless.endpoints', { 'proxyless.endpoint.state': 'healthy' })).toBe(0);
  });

  it('after close() it is no longer followed', () => {
    vi.useFakeTimers();
    const r = recorder({});
    const before = r.instruments;
    r.close();
    metricsApi.setGlobalMeterProvider(metricsSdk().provider);
    vi.advanceTimersByTime(5000);
    expect(r.instruments).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('without @opentelemetry/api there is no recorder, and the layers skip recording', () => {
    setOtelApiLoaderForTests(() => {
      throw new Error('Cannot find module');
    });
    expect(MetricsRecorder.create({})).toBeUndefined();
  });

  it('with the API and no SDK, recording goes to no-op instruments and never throws', () => {
    const service = recorder({}).service({ service: REVIEWS, port: 9080 });
    expect(() => {
      service.attempt('GET', 200, undefined, 0.01);
      service.call('r', 200, 0, 1);
    }).not.toThrow();
  });
});

describe('errorTypeOf', () => {
  it.each<[unknown, number, string | undefined]>([
    [undefined, 200, undefined],
    [undefined, 404, '404'],
    [undefined, 503, '503'],
    [Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 0, 'ECONNREFUSED'],
    [Object.assign(new Error('x'), { code: 'PROXYLESS_ERR_TIMEOUT' }), 0, 'PROXYLESS_ERR_TIMEOUT'],
    [Object.assign(new Error('x'), { name: 'AbortError' }), 0, 'AbortError'],
    [new Error('plain'), 0, '_OTHER'],
    [Object.assign(new Error('x'), { code: 'has spaces and is long'.repeat(10) }), 0, '_OTHER'],
    ['a string', 0, '_OTHER'],
  ])('%o, status %d → %s', (error, status, expected) => {
    expect(errorTypeOf(error, status)).toBe(expected);
  });
});
