// Deprecated Istio fields behave as current Istio treats them (semantics.md §13), each with
// one warning (the schema's field marks) saying what Istio does and what to write instead.
import { describe, expect, it } from 'vitest';
import { createMesh } from 'proxyless';

const warningsOf = async (config: string): Promise<readonly string[]> => {
  const mesh = createMesh({ config });
  const warnings = mesh.warnings;
  await mesh.close();
  return warnings;
};

const rule = (trafficPolicy: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: r }
spec:
  host: r
  trafficPolicy: ${trafficPolicy}
`;

describe('deprecated fields', () => {
  it('consecutiveErrors: ignored as Istio ignores it since 1.7 (Envoy defaults apply), one warning naming what to write', async () => {
    const warnings = await warningsOf(rule('{ outlierDetection: { consecutiveErrors: 3 } }'));
    expect(warnings).toEqual([expect.stringMatching(/^DestinationRule\/r \(config\[0\]#1\): spec\.trafficPolicy\.outlierDetection\.consecutiveErrors: .*Istio has ignored it since 1\.7.*5 consecutive 5xx.*consecutiveGatewayErrors.*consecutive5xxErrors/)]);
  });

  it('LEAST_CONN: LEAST_REQUEST, one warning', async () => {
    const warnings = await warningsOf(rule('{ loadBalancer: { simple: LEAST_CONN } }'));
    expect(warnings).toEqual([expect.stringContaining('spec.trafficPolicy.loadBalancer.simple: deprecated: LEAST_CONN is LEAST_REQUEST')]);
    const mesh = createMesh({ config: rule('{ loadBalancer: { simple: LEAST_CONN } }') });
    expect((await mesh.explain('http://r/')).destinations[0]?.balancer).toBe('least-request');
    await mesh.close();
  });

  it('mirrorPercent and fault.delay.percent: used when the Percent form is unset (0 mirrors nothing), one warning each', async () => {
    const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: v }
spec:
  hosts: [v]
  http:
  - mirror: { host: shadow }
    mirrorPercent: 0
    fault: { delay: { fixedDelay: 1s, percent: 0 } }
    route: [{ destination: { host: v } }]
`;
    const mesh = createMesh({ config: vs });
    expect(mesh.warnings).toEqual([
      expect.stringContaining('spec.http[0].fault.delay.percent: deprecated'),
      expect.stringContaining('spec.http[0].mirrorPercent: deprecated: Istio mirrors this percentage of requests when `mirrorPercentage` is unset, as proxyless does'),
    ]);
    // mirrorPercent: 0 mirrors nothing (it is not the 100 % default), as in Istio.
    expect((await mesh.explain('http://v/')).policies).toContain('mirror 0 % to shadow.default.svc.cluster.local');
    await mesh.close();
  });
});
