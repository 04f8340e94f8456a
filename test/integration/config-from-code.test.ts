// Config from TypeScript (virtualService, destinationRule, serviceEntry with typed
// extension options) against the same config in YAML with JSON annotations: the same
// settings, the same behaviour on real servers, the loader's own errors.
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, destinationRule, InvalidConfigError, serviceEntry, staticEndpoints, virtualService, type DestinationRule, type Mesh, type VirtualService } from 'proxyless';
import { parseMeshYaml } from 'proxyless/config';
import { hedgingSettings, retryBudgetSettings } from '../../src/config/extensions.js';
import { breakerSettings, CIRCUIT_BREAKER_ANNOTATION, HEALTH_CHECK_ANNOTATION, healthCheckSettings } from 'proxyless/policy';
import { closeAll, startBackend, type Backend } from '../helpers/backends.js';
import { statusOf } from '../helpers/status-of.js';

const servers: Backend[] = [];
const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((m) => m.close()));
  await closeAll(servers.splice(0));
});

const RETRIES_YAML = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api }
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
    retries: { attempts: 3, retryOn: 5xx, perTryTimeout: 10s }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: api
  annotations:
    proxyless.dev/retry-budget: '{"percent": 0, "minRetriesPerSecond": 0.05, "ttl": "60s"}'
spec: { host: api }
`;

const retriesFromCode = (): [VirtualService, DestinationRule] => [
  virtualService({
    metadata: { name: 'api' },
    spec: { hosts: ['api'], http: [{ route: [{ destination: { host: 'api' } }], retries: { attempts: 3, retryOn: '5xx', perTryTimeout: '10s' } }] },
  }),
  // 0.05 retries a second over 60 s: a reserve of 3 retries, whatever the traffic.
  destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, retryBudget: { percent: 0, minRetriesPerSecond: 0.05, ttl: 60_000 } }),
];

const HEDGING_YAML = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: api
  annotations:
    proxyless.dev/hedging: '{"delay": "100ms", "maxExtraPercent": 100}'
spec:
  hosts: [api]
  http:
  - route: [{ destination: { host: api } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec: { host: api, trafficPolicy: { loadBalancer: { simple: ROUND_ROBIN } } }
`;

const hedgingFromCode = (): [VirtualService, DestinationRule] => [
  virtualService({ metadata: { name: 'api' }, spec: { hosts: ['api'], http: [{ route: [{ destination: { host: 'api' } }] }] }, hedging: { delay: 100, maxExtraPercent: 100 } }),
  destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } } }),
];

const annotations = (resource: { metadata: { annotations?: Record<string, string> } }) => resource.metadata.annotations;

describe('config from code', () => {
  it('the typed extension options compile to the settings their YAML annotations give', () => {
    const [, yamlRule] = parseMeshYaml(RETRIES_YAML, 'retries.yaml') as [unknown, DestinationRule];
    const [, codeRule] = retriesFromCode();
    expect(retryBudgetSettings(annotations(codeRule), 'code')).toEqual(retryBudgetSettings(annotations(yamlRule), 'yaml'));
    const [yamlVs] = parseMeshYaml(HEDGING_YAML, 'hedging.yaml') as [VirtualService];
    const [codeVs] = hedgingFromCode();
    expect(hedgingSettings(annotations(codeVs), 'code')).toEqual(hedgingSettings(annotations(yamlVs), 'yaml'));
    const rule = destinationRule({
      metadata: { name: 'api' },
      spec: { host: 'api' },
      circuitBreaker: { volumeThreshold: 5, resetTimeout: 30_000, rollingWindow: '10s', failOn: ['5xx', 503] },
      healthCheck: { path: '/ready', interval: 5_000, timeout: '500ms', expectedStatuses: [200, '204-206', { start: 300, end: 400 }] },
    });
    expect(breakerSettings(annotations(rule)![CIRCUIT_BREAKER_ANNOTATION], 'code')).toEqual(
      breakerSettings('{"volumeThreshold": 5, "resetTimeout": "30s", "rollingWindow": "10s", "failOn": ["5xx", 503]}', 'yaml'),
    );
    expect(healthCheckSettings(annotations(rule)![HEALTH_CHECK_ANNOTATION], 'code')).toEqual(
      healthCheckSettings('{"path": "/ready", "interval": "5s", "timeout": "500ms", "expectedStatuses": [200, "204-206", {"start": 300, "end": 400}]}', 'yaml'),
    );
    // What a builder returns is the Istio resource: the annotations are JSON text.
    expect(rule).toMatchObject({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'api', annotations: { [CIRCUIT_BREAKER_ANNOTATION]: expect.any(String) } } });
    expect(rule).not.toHaveProperty('circuitBreaker');
  });

  it('retries and the retry budget: the same tries reach a failing server from YAML and from code', async () => {
    const counts: number[] = [];
    for (const config of [RETRIES_YAML, retriesFromCode()]) {
      const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = 503; res.end(); } });
      servers.push(api);
      const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config });
      meshes.push(mesh);
      for (let i = 0; i < 5; i++) expect(await statusOf(mesh)).toBe(503);
      counts.push(api.requests);
    }
    // 5 calls of up to 4 tries each, but the budget holds 3 retries: 5 + 3.
    expect(counts).toEqual([8, 8]);
  });

  it('hedging: from YAML and from code, a backup try answers for an endpoint that never does', async () => {
    for (const config of [HEDGING_YAML, hedgingFromCode()]) {
      const silent = await startBackend({ id: 'silent', handle: () => {} });
      const fast = await startBackend({ id: 'fast' });
      servers.push(silent, fast);
      const mesh = createMesh({ discovery: [staticEndpoints({ api: [silent.address, fast.address] })], config });
      meshes.push(mesh);
      const bodies: string[] = [];
      // Round robin: of two calls in a row, one has its first try on the silent endpoint.
      for (let i = 0; i < 2; i++) bodies.push(await (await request('http://api/', { dispatcher: mesh.dispatcher })).body.text());
      expect(bodies).toEqual(['fast', 'fast']);
      expect(silent.requests).toBeGreaterThanOrEqual(1);
    }
  });

  it('the circuit breaker: it opens after the same number of failures from YAML and from code', async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: api
  annotations:
    proxyless.dev/circuit-breaker: '{"volumeThreshold": 3, "errorThresholdPercentage": 50, "resetTimeout": "60s"}'
spec: { host: api }`;
    const code = destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, circuitBreaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeout: 60_000 } });
    const reached: number[] = [];
    for (const config of [yaml, code]) {
      const api = await startBackend({ id: 'api', handle: (_req, res) => { res.statusCode = 500; res.end(); } });
      servers.push(api);
      const mesh = createMesh({ discovery: [staticEndpoints({ api: [api.address] })], config });
      meshes.push(mesh);
      const outcomes: Array<number | string> = [];
      for (let i = 0; i < 6; i++) outcomes.push(await statusOf(mesh));
      expect(outcomes.at(-1)).toBe('PROXYLESS_ERR_CIRCUIT_OPEN');
      reached.push(api.requests);
    }
    expect(reached[0]).toBe(reached[1]);
  });

  it('a ServiceEntry from code registers its host', async () => {
    const api = await startBackend({ id: 'entry' });
    servers.push(api);
    const entry = serviceEntry({
      metadata: { name: 'ext' },
      spec: { hosts: ['ext.example.com'], ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], resolution: 'STATIC', endpoints: [{ address: '127.0.0.1', ports: { http: api.port } }] },
    });
    const mesh = createMesh({ outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, config: [entry] });
    meshes.push(mesh);
    expect(await (await mesh.fetch('http://ext.example.com/')).text()).toBe('entry');
  });

  it('builders throw the loader\'s errors at once, naming the field, the value and what is expected', () => {
    const problem = (build: () => unknown): string[] => {
      try {
        build();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidConfigError);
        return [...(error as InvalidConfigError).problems];
      }
      return expect.fail('no error');
    };
    // The same mistake in YAML, through createMesh, gives the same finding.
    const fromCode = problem(() => destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, circuitBreaker: { volumeThreshold: -1 } }));
    const fromYaml = problem(() => createMesh({ config: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api, annotations: { proxyless.dev/circuit-breaker: '{"volumeThreshold": -1}' } }
spec: { host: api }` }));
    const finding = (lines: string[]) => lines.map((l) => l.slice(l.indexOf('metadata.annotations')));
    expect(fromCode).toHaveLength(1);
    expect(finding(fromCode)).toEqual(finding(fromYaml));
    expect(fromCode[0]).toContain('volumeThreshold: -1');

    expect(problem(() => virtualService({ metadata: { name: 'api' }, spec: { hosts: ['api'], http: [{ timeout: 'soon', route: [{ destination: { host: 'api' } }] }] } })).join('\n')).toMatch(/http\[0\]\.timeout: "soon"/);
    expect(problem(() => virtualService({ metadata: { name: 'api' }, spec: { hosts: ['api'] }, hedging: { delay: -5 } })).join('\n')).toMatch(/hedging\.delay: -5 \(expected: milliseconds/);
    expect(problem(() => destinationRule({ metadata: { name: 'api' }, spec: { host: 'api' }, healthCheck: { interval: Number.NaN } })).join('\n')).toMatch(/healthCheck\.interval: NaN/);
    // A field the schema lacks is a typo from code: an error, not the YAML loader's warning.
    expect(problem(() => destinationRule({ metadata: { name: 'api' }, spec: { host: 'api', trafficPolicy: { loadBalancr: {} } } as never })).join('\n')).toMatch(/loadBalancr/);
    // An option given twice, as the typed object and as its annotation.
    expect(
      problem(() => destinationRule({ metadata: { name: 'api', annotations: { 'proxyless.dev/retry-budget': '{}' } }, spec: { host: 'api' }, retryBudget: { percent: 10 } })).join('\n'),
    ).toMatch(/retryBudget: given both as an option and as the annotation "proxyless.dev\/retry-budget"/);
    expect(problem(() => serviceEntry({ metadata: { name: 'Bad_Name' }, spec: { hosts: ['x.example.com'] } })).join('\n')).toMatch(/metadata\.name/);
  });
});
