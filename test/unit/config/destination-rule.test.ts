import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError, staticEndpoints } from 'proxyless';

const rule = (spec: object, extra: object = {}) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'DestinationRule',
  metadata: { name: 'reviews' },
  spec,
  ...extra,
});

function configProblems(config: unknown[]): readonly string[] {
  try {
    createMesh({ config: config as object[] }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as InvalidConfigError).code).toBe('PROXYLESS_ERR_INVALID_CONFIG');
    return (error as InvalidConfigError).problems;
  }
  throw new Error('the config was accepted');
}

describe('DestinationRule loading', () => {
  it.each<[string, unknown, string]>([
    ['unknown simple', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }), 'DestinationRule/reviews (config[0]): spec.trafficPolicy.loadBalancer.simple: "FASTEST" (expected: one of "UNSPECIFIED", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST", "LEAST_CONN")'],
    ['simple and consistentHash', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } } }), 'spec.trafficPolicy.loadBalancer: '],
    ['two hash keys', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x', useSourceIp: true } } } }), 'exactly one of httpHeaderName, httpCookie, useSourceIp: true, httpQueryParameterName'],
    ['host missing', rule({}), 'DestinationRule/reviews (config[0]): spec.host: undefined (expected: a host such as "reviews"'],
    ['host with a port', rule({ host: 'reviews:9080' }), 'spec.host: "reviews:9080"'],
    ['bad apiVersion', rule({ host: 'reviews' }, { apiVersion: 'networking.istio.io/v2' }), 'apiVersion: "networking.istio.io/v2" (expected: one of "networking.istio.io/v1"'],
    ['no metadata name', { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: {}, spec: { host: 'r' } }, 'config[0]: metadata.name: undefined (expected: a resource name)'],
    ['unknown kind', rule({}, { kind: 'Deployment' }), 'kind: "Deployment" (expected: one of "DestinationRule", "VirtualService", "ServiceEntry", "LocalRateLimit")'],
    ['warmup without a duration', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { minimumPercent: 5 } } } }), 'spec.trafficPolicy.loadBalancer.warmup.duration: undefined (expected: a duration'],
    ['warmup of two days', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '48h' } } } }), 'spec.trafficPolicy.loadBalancer.warmup.duration: "48h" (expected: a duration from 1ms to 24h such as "60s")'],
    ['warmup minimumPercent above 100', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '60s', minimumPercent: 120 } } } }), 'warmup.minimumPercent: 120 (expected: a percentage from 0 to 100)'],
    ['warmup aggression 0', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '60s', aggression: 0 } } } }), 'warmup.aggression: 0 (expected: a number > 0 (1 ramps linearly), such as 1)'],
    ['warmupDurationSecs not a duration', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', warmupDurationSecs: 60 } } }), 'loadBalancer.warmupDurationSecs: 60 (expected: a duration'],
    ['ring size out of range', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 0 } } } } }), 'ringHash.minimumRingSize: 0 (expected: >= 1)'],
  ])('%s', (_name, resource, expected) => {
    const lines = configProblems([resource]);
    expect(lines.some((l) => l.includes(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('warmup loads for the balancers that ramp, and is reported as ignored for the ones that do not (as in Envoy)', async () => {
    const mesh = createMesh({
      config: [
        rule({
          host: 'reviews',
          trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST', warmup: { duration: '60s', minimumPercent: 5, aggression: 2 } } },
          subsets: [
            { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM', warmupDurationSecs: '30s' } } },
            { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { warmup: { duration: '10s' } } } },
          ],
        }),
      ],
    });
    expect(mesh.warnings.filter((w) => w.includes('warmup'))).toEqual([
      'DestinationRule/reviews (config[0]): spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs is ignored with RANDOM (slow start applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer, as in Envoy)',
    ]);
    await mesh.close();
  });

  it('a security kind not supported yet is a warning, not ignored silently, and the rest loads', async () => {
    const mesh = createMesh({ config: [rule({ rules: [] }, { kind: 'AuthorizationPolicy', apiVersion: 'security.istio.io/v1' }), rule({ host: 'reviews' })] });
    expect(mesh.warnings).toEqual([
      'AuthorizationPolicy/reviews (config[0]): kind AuthorizationPolicy is not supported yet; this resource is ignored (supported: DestinationRule, VirtualService, ServiceEntry)',
    ]);
    await mesh.close();
  });

  it('reports the problems of every resource at once', () => {
    const lines = configProblems([rule({}), rule({ host: 'ok' }), rule({ host: 'x', trafficPolicy: { loadBalancer: { simple: 1 } } })]);
    expect(lines.some((l) => l.startsWith('DestinationRule/reviews (config[0])'))).toBe(true);
    expect(lines.some((l) => l.startsWith('DestinationRule/reviews (config[2])'))).toBe(true);
    expect(lines).toHaveLength(2);
  });

  it('an unknown field and a field not enforced yet are warnings naming them, and the rest applies', async () => {
    const mesh = createMesh({
      config: [
        rule({
          host: 'reviews',
          trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, tls: { mode: 'SIMPLE' }, tunnel: { protocol: 'CONNECT' } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        }),
      ],
    });
    expect(mesh.warnings).toEqual([
      'DestinationRule/reviews (config[0]): spec.trafficPolicy.tunnel is not supported and is ignored',
      'DestinationRule/reviews (config[0]): spec.trafficPolicy.tls is validated but not enforced yet',
    ]);
    await mesh.close();
  });

  it('a second rule for the same host is reported and ignored (the first applies, as in Istio)', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })],
      config: [
        rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
        { ...rule({ host: 'reviews.default.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }), metadata: { name: 'second' } },
      ],
    });
    expect(mesh.warnings).toEqual([
      'DestinationRule/second (config[1]): DestinationRule/reviews (config[0]) already applies to host reviews.default.svc.cluster.local; this one is ignored (Istio uses the oldest)',
    ]);
    const explained = await mesh.explain('http://reviews/');
    expect(explained.destinations.map((d) => d.balancer)).toEqual(['round-robin']);
    await mesh.close();
  });
});
