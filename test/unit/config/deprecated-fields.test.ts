// Deprecated Istio fields load as current Istio treats them, each with a warning that says
// what Istio does and what to write instead (semantics.md §13).
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
  subsets: [{ name: v1, labels: { version: v1 }, trafficPolicy: ${trafficPolicy} }]
`;

describe('deprecated fields', () => {
  it('consecutiveErrors: ignored as Istio ignores it, at every level, with the replacement for its value', async () => {
    const warnings = await warningsOf(rule('{ outlierDetection: { consecutiveErrors: 3 } }'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^DestinationRule\/r \(config\[0\]#1\): spec\.trafficPolicy\.outlierDetection\.consecutiveErrors is deprecated and ignored, as Istio ignores it since 1\.7: Envoy's defaults apply .* consecutiveGatewayErrors: 3; .* consecutive5xxErrors: 3/);
    expect(warnings[1]).toMatch(/spec\.subsets\[0\]\.trafficPolicy\.outlierDetection\.consecutiveErrors is deprecated/);
  });

  it('consecutiveErrors beside the new fields: those apply, and the warning says so', async () => {
    const [warning] = await warningsOf(rule('{ outlierDetection: { consecutiveErrors: 3, consecutive5xxErrors: 7 } }'));
    expect(warning).toContain('the consecutive5xxErrors/consecutiveGatewayErrors written beside it apply');
  });

  it('consecutiveErrors: 0 is what Istio treats as unset: no warning', async () => {
    expect(await warningsOf(rule('{ outlierDetection: { consecutiveErrors: 0 } }'))).toEqual([]);
  });

  it('LEAST_CONN, consistentHash.minimumRingSize and warmupDurationSecs: used as Istio uses them, with a warning', async () => {
    const lc = await warningsOf(rule('{ loadBalancer: { simple: LEAST_CONN } }'));
    expect(lc[0]).toContain('spec.trafficPolicy.loadBalancer.simple: LEAST_CONN is deprecated; Istio treats it as LEAST_REQUEST');
    const ring = await warningsOf(rule('{ loadBalancer: { consistentHash: { useSourceIp: true, minimumRingSize: 64 } } }'));
    expect(ring[0]).toContain('write ringHash: { minimumRingSize: 64 }');
    const warmup = await warningsOf(rule('{ loadBalancer: { simple: ROUND_ROBIN, warmupDurationSecs: 60s } }'));
    expect(warmup[0]).toContain('spec.trafficPolicy.loadBalancer.warmupDurationSecs is deprecated; Istio still uses it as the slow-start window when warmup is unset, and so does proxyless: write warmup: { duration: 60s }');
  });

  it('mirrorPercent and fault.delay.percent: used when the Percent form is unset, with a warning', async () => {
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
      expect.stringContaining('spec.http[0].mirrorPercent is deprecated; Istio still mirrors that share when mirrorPercentage is unset, and so does proxyless: write mirrorPercentage: { value: 0 }'),
      expect.stringContaining('spec.http[0].fault.delay.percent is deprecated; Istio still delays that share when percentage is unset'),
    ]);
    // mirrorPercent: 0 mirrors nothing (it is not the 100 % default), as in Istio.
    expect((await mesh.explain('http://v/')).policies).toContain('mirror 0 % to shadow.default.svc.cluster.local');
    await mesh.close();
  });
});
