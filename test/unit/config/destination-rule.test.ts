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
    ['unknown simple', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }), 'DestinationRule/reviews (config[0]): spec.trafficPolicy.loadBalancer.simple: "FASTEST" (expected: one of UNSPECIFIED, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST (upper case))'],
    ['simple and consistentHash', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } } }), 'spec.trafficPolicy.loadBalancer: '],
    ['two hash keys', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x', useSourceIp: true } } } }), 'spec.trafficPolicy.loadBalancer.consistentHash: one hash key of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName (this one sets httpHeaderName and useSourceIp)'],
    ['host missing', rule({}), 'DestinationRule/reviews (config[0]): spec.host: undefined (expected: a host such as "reviews"'],
    ['host with a port', rule({ host: 'reviews:9080' }), 'spec.host: "reviews:9080"'],
    ['bad apiVersion', rule({ host: 'reviews' }, { apiVersion: 'networking.istio.io/v2' }), 'apiVersion: "networking.istio.io/v2" (expected: one of "networking.istio.io/v1"'],
    ['no metadata name', { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: {}, spec: { host: 'r' } }, 'config[0]: metadata.name: undefined (expected: a resource name)'],
    ['unknown kind of an Istio group', rule({}, { kind: 'Deployment' }), 'kind: "Deployment" (expected: a kind of networking.istio.io: VirtualService, DestinationRule, ServiceEntry, '],
    ['ring size out of range', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, ringHash: { minimumRingSize: 8_388_609 } } } } }), 'ringHash.minimumRingSize: 8388609 (expected: a ring size of at most 8388608 (Envoy\'s limit))'],
    ['warmup without a duration', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { minimumPercent: 5 } } } }), 'spec.trafficPolicy.loadBalancer.warmup.duration: undefined (expected: a duration'],
    ['warmup minimumPercent above 100', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '60s', minimumPercent: 120 } } } }), 'warmup.minimumPercent: 120 (expected: a percentage from 0 to 100)'],
    ['warmup aggression 0', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '60s', aggression: 0 } } } }), 'warmup.aggression: 0 (expected: a number > 0 (1 ramps linearly))'],
    ['warmup under 1 ms', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { warmup: { duration: '500us' } } } }), 'warmup.duration: "500us" (expected: a duration of at least 1ms (Istio\'s minimum))'],
    ['warmupDurationSecs not a duration', rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN', warmupDurationSecs: 60 } } }), 'loadBalancer.warmupDurationSecs: 60 (expected: a duration'],
  ])('%s', (_name, resource, expected) => {
    const lines = configProblems([resource]);
    expect(lines.some((l) => l.includes(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('warmup loads for the balancers that ramp, and is reported as ignored for the ones that do not (as in Envoy)', async () => {
    const mesh = createMesh({
      config: [
        rule({
          host: 'reviews',
          // 48h: Istio sets no upper bound on the window, and no timer runs it.
          trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST', warmup: { duration: '48h', minimumPercent: 5, aggression: 2 } } },
          subsets: [
            { name: 'v1', labels: { version: 'v1' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM', warmupDurationSecs: '30s' } } },
            { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { warmup: { duration: '10s' } } } },
          ],
        }),
      ],
    });
    expect(mesh.warnings.filter((w) => w.includes('warmup'))).toEqual([
      'DestinationRule/reviews (config[0]): spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs: deprecated: Istio ramps traffic to new endpoints over this time (Envoy slow start), as proxyless does when `warmup` is unset; write `warmup: {duration: ...}`',
      'DestinationRule/reviews (config[0]): spec.subsets[0].trafficPolicy.loadBalancer.warmupDurationSecs is ignored with RANDOM (slow start applies to ROUND_ROBIN, LEAST_REQUEST and the default balancer, as in Envoy)',
    ]);
    await mesh.close();
  });

  it('a security kind loads next to the networking ones and is applied (no "not applied" warning)', async () => {
    const mesh = createMesh({ config: [rule({ rules: [] }, { kind: 'AuthorizationPolicy', apiVersion: 'security.istio.io/v1' }), rule({ host: 'reviews' })] });
    expect(mesh.warnings).toEqual([]);
    // `rules: []` is Istio's ALLOW policy that matches nothing: the workload now denies every request.
    expect(mesh.inboundSecurity().security.current.compiled.authorizer.policies).toHaveLength(1);
    await mesh.close();
  });

  it('reports the problems of every resource at once', () => {
    const lines = configProblems([rule({}), rule({ host: 'ok' }), rule({ host: 'x', trafficPolicy: { loadBalancer: { simple: 1 } } })]);
    expect(lines.some((l) => l.startsWith('DestinationRule/reviews (config[0])'))).toBe(true);
    expect(lines.some((l) => l.startsWith('DestinationRule/reviews (config[2])'))).toBe(true);
    expect(lines).toHaveLength(2);
  });

  it('an unknown field and a field not applied are warnings naming them, and the rest applies', async () => {
    const mesh = createMesh({
      config: [
        rule({
          host: 'reviews',
          trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, tls: { mode: 'SIMPLE', credentialName: 'reviews-tls' }, retry: { attempts: 2 } },
          subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        }),
      ],
    });
    expect(mesh.warnings).toEqual([
      "DestinationRule/reviews (config[0]): spec.trafficPolicy.retry: unknown field, ignored (not in Istio's API; check its spelling)",
      'DestinationRule/reviews (config[0]): spec.trafficPolicy.tls.credentialName: not supported by proxyless, ignored: reads the client certificate, key and CA from a Kubernetes Secret (proxyless reads files: clientCertificate, privateKey, caCertificates)',
    ]);
    await mesh.close();
  });

  it("a second rule for the same host merges into the first, whose traffic policy stays in force (Istio's merge)", async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ reviews: ['127.0.0.1:1'] })],
      config: [
        rule({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }),
        { ...rule({ host: 'reviews.default.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } }), metadata: { name: 'second' } },
      ],
    });
    expect(mesh.warnings).toEqual([
      "DestinationRule/second (config[1]): spec.trafficPolicy is ignored: DestinationRule/reviews (config[0]) applies to host reviews.default.svc.cluster.local too and is older; Istio merges the two rules' subsets and keeps the oldest rule's traffic policy (move the policy there, or into a subset)",
    ]);
    const explained = await mesh.explain('http://reviews/');
    expect(explained.destinations.map((d) => d.balancer)).toEqual(['round-robin']);
    expect(explained.destinations[0]?.destinationRule).toBe('DestinationRule/reviews (config[0]) + DestinationRule/second (config[1])');
    await mesh.close();
  });
});
