import { describe, expect, it } from 'vitest';
import { namespaceOfService, parseResourceAttributes, peerFromLabels, resolveWorkload, workloadFromPodName } from 'proxyless/telemetry';

describe('resolveWorkload', () => {
  it('options first, then the environment, then the defaults', () => {
    const env = { ISTIO_META_WORKLOAD_NAME: 'reviews-v1', POD_NAMESPACE: 'bookinfo', ISTIO_META_CLUSTER_ID: 'Kubernetes' };
    expect(resolveWorkload({ name: 'explicit', namespace: 'ns', cluster: 'c1' }, {}, 'default', env)).toMatchObject({ name: 'explicit', namespace: 'ns', cluster: 'c1' });
    expect(resolveWorkload(undefined, {}, 'default', env)).toMatchObject({ name: 'reviews-v1', namespace: 'bookinfo', cluster: 'Kubernetes' });
    expect(resolveWorkload(undefined, {}, undefined, {})).toEqual({
      name: 'unknown',
      namespace: 'unknown',
      app: 'unknown',
      version: 'unknown',
      canonicalService: 'unknown',
      canonicalRevision: 'latest',
      cluster: 'unknown',
      principal: 'unknown',
    });
    // The mesh's namespace is the last resort for the namespace.
    expect(resolveWorkload(undefined, {}, 'payments', {}).namespace).toBe('payments');
  });

  it('reads k8s.* from OTEL_RESOURCE_ATTRIBUTES when Istio names nothing', () => {
    const env = { OTEL_RESOURCE_ATTRIBUTES: 'service.name=x,k8s.namespace.name=shop,k8s.statefulset.name=db%2Dprimary' };
    expect(resolveWorkload(undefined, {}, 'default', env)).toMatchObject({ name: 'db-primary', namespace: 'shop' });
  });

  it('falls back to POD_NAME, without the generated suffixes of a Deployment pod', () => {
    expect(resolveWorkload(undefined, {}, undefined, { POD_NAME: 'reviews-v1-5b4c8f8d7c-x2k9z' }).name).toBe('reviews-v1');
    expect(resolveWorkload(undefined, {}, undefined, { POD_NAME: 'web-0' }).name).toBe('web-0');
  });

  it("takes app, version and Istio's canonical names from the labels", () => {
    expect(resolveWorkload({ name: 'reviews-v2' }, { app: 'reviews', version: 'v2' }, undefined, {})).toMatchObject({
      app: 'reviews',
      version: 'v2',
      canonicalService: 'reviews',
      canonicalRevision: 'v2',
    });
    const labels = { 'app.kubernetes.io/name': 'shop', 'app.kubernetes.io/version': '1.2', 'service.istio.io/canonical-name': 'storefront', 'service.istio.io/canonical-revision': 'r7' };
    expect(resolveWorkload({ name: 'w' }, labels, undefined, {})).toMatchObject({ app: 'shop', version: '1.2', canonicalService: 'storefront', canonicalRevision: 'r7' });
    // No labels: the canonical service is the workload name (Istio's rule).
    expect(resolveWorkload({ name: 'w' }, {}, undefined, {}).canonicalService).toBe('w');
  });

  it('blank and over-long values are not taken', () => {
    expect(resolveWorkload(undefined, {}, undefined, { ISTIO_META_WORKLOAD_NAME: '  ', POD_NAMESPACE: 'x'.repeat(1000) })).toMatchObject({ name: 'unknown', namespace: 'x'.repeat(253) });
  });
});

describe('parseResourceAttributes', () => {
  it('parses pairs, decodes values, keeps the first of a key, skips what is malformed', () => {
    expect(Object.fromEntries(parseResourceAttributes('a=1, b = two%20words ,=x,novalue,c=%E0%A4%A,a=2,d=e=f'))).toEqual({ a: '1', b: 'two words', d: 'e=f' });
    expect(parseResourceAttributes(undefined).size).toBe(0);
  });

  it('reads at most 8 KiB', () => {
    const text = `${'k=v,'.repeat(5000)}late=1`;
    expect(parseResourceAttributes(text).has('late')).toBe(false);
  });
});

describe('peers and names', () => {
  it('a peer is named by its workload label, its namespace by its label or its service', () => {
    expect(peerFromLabels({ workload: 'ratings-v1', app: 'ratings', version: 'v1' }, 'bookinfo')).toMatchObject({ name: 'ratings-v1', namespace: 'bookinfo', app: 'ratings', canonicalRevision: 'v1' });
    expect(peerFromLabels({ namespace: 'other' }, 'bookinfo')).toMatchObject({ name: 'unknown', namespace: 'other' });
  });

  it('the namespace of a Kubernetes service name', () => {
    expect(namespaceOfService('reviews.bookinfo.svc.cluster.local')).toBe('bookinfo');
    expect(namespaceOfService('api.example.com')).toBeUndefined();
  });

  it('pod names', () => {
    expect(workloadFromPodName('productpage-v1-6b746f74dc-9stvs')).toBe('productpage-v1');
    // A vowel cannot be in a generated suffix: this is a bare pod's own name.
    expect(workloadFromPodName('my-batch-abcdef-ghijk')).toBe('my-batch-abcdef-ghijk');
  });
});
