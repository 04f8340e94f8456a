// Metrics of outbound calls with the real metrics SDK (a reader the test collects from):
// per-try durations, per-call counters under both naming presets, retry stop reasons,
// the state gauges sampled at collection, discovery and config counters, and the bound
// on passthrough hosts. Real servers on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { staticEndpoints, type Mesh } from 'proxyless';
import { testRig } from '../../helpers/rig.js';
import { metricsSdk } from '../../helpers/metrics-sdk.js';

const rig = testRig();

const retrying = {
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'api' },
  spec: { hosts: ['api'], http: [{ name: 'main', route: [{ destination: { host: 'api' } }], retries: { attempts: 1, retryOn: '5xx' } }] },
};

async function get(mesh: Mesh, url: string): Promise<number> {
  try {
    const res = await mesh.fetch(url);
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

describe('outbound metrics', () => {
  it('per try and per call, OpenTelemetry and Istio names; retries and why they stopped', async () => {
    // 503, then 200 (call 1 retried once); 503, 503 (call 2 runs out of retries: URX).
    const statuses = [503, 200, 503, 503];
    const api = await rig.backend({ id: 'api', handle: (_req, res) => { res.statusCode = statuses.shift() ?? 200; res.end('x'); } });
    const { provider, collect } = metricsSdk();
    const mesh = rig.mesh({
      discovery: [staticEndpoints({ api: [{ address: '127.0.0.1', port: api.port, labels: { workload: 'api-v1', app: 'api', version: 'v1' } }] })],
      config: [retrying],
      telemetry: { metrics: { meterProvider: provider }, metricNames: 'both', workload: { name: 'caller', namespace: 'shop' } },
    });
    expect(await get(mesh, 'http://api/a')).toBe(200);
    expect(await get(mesh, 'http://api/b')).toBe(503);
    const m = await collect();
    const service = 'api.default.svc.cluster.local';

    const durations = m.points('http.client.request.duration', { 'server.address': service, 'server.port': 80 });
    const count = (status: number) => durations.filter((p) => p.attributes['http.response.status_code'] === status).reduce((n, p) => n + (p.value as { count: number }).count, 0);
    expect([count(200), count(503)]).toEqual([1, 3]);
    expect(durations.find((p) => p.attributes['http.response.status_code'] === 503)!.attributes['error.type']).toBe('503');

    expect(m.value('proxyless.client.requests', { 'proxyless.service': service, 'proxyless.route': 'api.main', 'http.response.status_code': 200, 'proxyless.response_flags': '-' })).toBe(1);
    expect(m.value('proxyless.client.requests', { 'proxyless.service': service, 'http.response.status_code': 503, 'proxyless.response_flags': 'URX' })).toBe(1);
    expect(m.value('proxyless.client.retries', { 'proxyless.service': service, 'proxyless.route': 'api.main' })).toBe(2);
    expect(m.value('proxyless.client.retries.stopped', { 'proxyless.retry.stop_reason': 'attempts' })).toBe(1);

    const istio = m.points('istio_requests_total', { reporter: 'source', response_code: '503' });
    expect(istio).toHaveLength(1);
    expect(istio[0]!.attributes).toMatchObject({
      source_workload: 'caller',
      source_workload_namespace: 'shop',
      destination_service: service,
      destination_service_name: 'api',
      destination_service_namespace: 'default',
      destination_workload: 'api-v1',
      destination_app: 'api',
      response_flags: 'URX',
      request_protocol: 'http',
    });
    expect(m.points('istio_request_duration_milliseconds', { response_code: '200' })).toHaveLength(1);

    // No raw path and no endpoint address on the request counters.
    for (const name of ['proxyless.client.requests', 'istio_requests_total', 'http.client.request.duration']) {
      for (const p of m.points(name)) {
        expect(JSON.stringify(p.attributes)).not.toContain('/a');
        expect(JSON.stringify(p.attributes)).not.toContain(String(api.port));
      }
    }
    // Sampled at collection: the endpoint gauges (the address only here), discovery refreshes.
    expect(m.value('proxyless.endpoints', { 'proxyless.service': service, 'proxyless.endpoint.state': 'healthy' })).toBe(1);
    expect(m.value('proxyless.endpoint.pending_requests', { 'network.peer.port': api.port })).toBe(0);
    expect(m.value('proxyless.discovery.refreshes', { 'proxyless.discovery.source': 'static' })).toBeGreaterThanOrEqual(1);
  });

  it('no response: Istio\'s response_code is the sidecar\'s status for the flags (UF: 503), ours 0', async () => {
    const { provider, collect } = metricsSdk();
    // A port nothing listens on: connection refused, retried by Istio's default policy, then failed.
    const mesh = rig.mesh({ discovery: [staticEndpoints({ api: ['127.0.0.1:1'] })], telemetry: { metrics: { meterProvider: provider }, metricNames: 'both' } });
    expect(await get(mesh, 'http://api/')).toBe(0);
    const m = await collect();
    const ours = m.points('proxyless.client.requests');
    expect(ours.map((p) => [p.attributes['http.response.status_code'], String(p.attributes['proxyless.response_flags']).split(',').includes('UF')])).toEqual([[0, true]]);
    expect(m.points('istio_requests_total').map((p) => p.attributes.response_code)).toEqual(['503']);
  });

  it('config reloads and rejected reloads are counted; passthrough hosts past maxPassthroughHosts are _OTHER', async () => {
    const outside = await rig.backend({ id: 'outside' });
    const { provider, collect } = metricsSdk();
    const mesh = rig.mesh({ discovery: [staticEndpoints({})], telemetry: { metrics: { meterProvider: provider, maxPassthroughHosts: 1 } } });
    mesh.applyConfig([retrying]);
    expect(() => mesh.applyConfig([{ ...retrying, spec: { hosts: 'not-a-list' } }])).toThrow();
    await get(mesh, `http://127.0.0.1:${outside.port}/`);
    await get(mesh, `http://localhost:${outside.port}/`);
    const m = await collect();
    expect(m.value('proxyless.config.reloads')).toBe(1);
    expect(m.value('proxyless.config.reloads.rejected')).toBe(1);
    const services = m.points('proxyless.client.requests').map((p) => p.attributes['proxyless.service']).sort();
    expect(services).toEqual(['127.0.0.1', '_OTHER']);
  });
});
