import { describe, expect, it } from 'vitest';
import { createMesh, InvalidOptionError, staticEndpoints } from 'proxyless';

/** Runs createMesh and returns the InvalidOptionError's problem lines. */
function problems(options: unknown): readonly string[] {
  try {
    createMesh(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).code).toBe('PROXYLESS_ERR_INVALID_OPTION');
    return (error as InvalidOptionError).problems;
  }
  throw new Error('createMesh accepted invalid options');
}

describe('createMesh option validation', () => {
  it.each<[string, unknown, string]>([
    ['non-object options', 'reviews', 'options: "reviews" (expected: an object)'],
    ['discovery not an array', { discovery: staticEndpoints() }, 'discovery: '],
    ['a non-source in discovery', { discovery: [{ reviews: [] }] }, 'discovery[0]: {"reviews":[]} (expected: a discovery source such as staticEndpoints({...}))'],
    ['negative discoveryTimeout', { discoveryTimeout: -1 }, 'discoveryTimeout: -1 (expected: >= 0)'],
    ['fractional closeGracePeriod', { closeGracePeriod: 1.5 }, 'closeGracePeriod: 1.5 (expected: a whole number of milliseconds)'],
    ['string timeout', { discoveryTimeout: '5s' }, 'discoveryTimeout: "5s" (expected: a number of milliseconds)'],
    ['unknown policy mode', { outboundTrafficPolicy: { mode: 'DENY' } }, 'outboundTrafficPolicy.mode: "DENY" (expected: one of "ALLOW_ANY", "REGISTRY_ONLY")'],
    ['zero pool connections', { endpointPool: { connections: 0 } }, 'endpointPool.connections: 0 (expected: >= 1)'],
    ['bad namespace', { namespace: 'Book_Info' }, 'namespace: "Book_Info" (expected: a Kubernetes namespace name such as "default")'],
    ['bad cluster domain', { clusterDomain: 'cluster local' }, 'clusterDomain: "cluster local" (expected: a DNS domain such as "cluster.local")'],
    ['stacks.service not a function', { stacks: { service: [] } }, 'stacks.service: [] (expected: a function (stack) => void)'],
    ['a typo in a field name', { discovry: [] }, 'discovry: unknown field (expected one of: discovery, config, labels, namespace'],
    ['a typo in a nested field', { endpointPool: { connection: 4 } }, 'endpointPool.connection: unknown field (expected one of: connections, keepAliveTimeout, connectTimeout, tls)'],
    ['negative requestBufferLimit', { requestBufferLimit: -1 }, 'requestBufferLimit: -1 (expected: >= 0)'],
    ['fractional requestBufferLimit', { requestBufferLimit: 1.5 }, 'requestBufferLimit: 1.5 (expected: a whole number of bytes)'],
    ['a requestBufferLimit over 64 MiB', { requestBufferLimit: 2 ** 30 }, 'requestBufferLimit: 1073741824 (expected: at most 67108864 bytes (64 MiB)'],
    ['a requestBufferLimit as text', { requestBufferLimit: '64k' }, 'requestBufferLimit: "64k" (expected: a number of bytes)'],
    ['config of the wrong type', { config: 42 }, 'config: 42 (expected: a file or directory path, YAML text, an Istio resource object, a config source, or an array of these)'],
  ])('%s', (_name, options, expected) => {
    const lines = problems(options);
    expect(lines.some((l) => l.startsWith(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('reports every problem at once, and the message names createMesh', () => {
    let message = '';
    try {
      createMesh({ discoveryTimeout: -5, closeGracePeriod: 'x', namespace: 7 } as never);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^createMesh: invalid options:/);
    expect(message).toContain('discoveryTimeout: -5');
    expect(message).toContain('closeGracePeriod: "x"');
    expect(message).toContain('namespace: 7');
  });

  it('accepts no options at all, and every documented option with a valid value', async () => {
    const mesh = createMesh();
    await mesh.close();
    const full = createMesh({
      discovery: [staticEndpoints({ reviews: ['127.0.0.1:9080'] })],
      config: [],
      namespace: 'bookinfo',
      clusterDomain: 'cluster.local',
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
      discoveryTimeout: 1000,
      closeGracePeriod: 0,
      requestBufferLimit: 0,
      endpointPool: { connections: 8, keepAliveTimeout: 1000, connectTimeout: 500 },
      stacks: { service: () => {}, endpoint: () => {} },
    });
    await full.close();
  });
});

describe('staticEndpoints validation', () => {
  it.each<[string, unknown, string]>([
    ['missing port', { reviews: ['127.0.0.1'] }, 'reviews[0]: "127.0.0.1" (expected: "host:port"'],
    ['port out of range', { reviews: ['127.0.0.1:70000'] }, 'reviews[0]: "127.0.0.1:70000" (expected: a port from 1 to 65535)'],
    ['object without port', { reviews: [{ address: '10.0.0.1' }] }, 'reviews[0].port: undefined (expected: an integer from 1 to 65535)'],
    ['zero weight', { reviews: [{ address: '10.0.0.1', port: 80, weight: 0 }] }, 'reviews[0].weight: 0 (expected: an integer from 1 to 1000000)'],
    ['non-string label', { reviews: [{ address: '10.0.0.1', port: 80, labels: { version: 2 } }] }, 'reviews[0].labels.version: 2 (expected: a string)'],
    ['duplicate endpoint', { reviews: ['10.0.0.1:80', '10.0.0.1:80'] }, 'reviews[1]: "10.0.0.1:80" (expected: each address:port once per service)'],
    ['not a list', { reviews: '10.0.0.1:80' }, 'reviews: "10.0.0.1:80" (expected: an array of endpoints)'],
    ['bad service name', { 'reviews v2': [] }, '"reviews v2": (expected: a DNS-style service name'],
  ])('%s', (_name, services, expected) => {
    let lines: readonly string[] = [];
    try {
      staticEndpoints(services as never);
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      lines = (error as InvalidOptionError).problems;
    }
    expect(lines.some((l) => l.startsWith(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('set() validates too and keeps the previous endpoints on error', () => {
    const source = staticEndpoints({ reviews: ['127.0.0.1:9080'] });
    expect(() => source.set('reviews', ['nope'])).toThrow(/staticEndpoints\.set: invalid option:\n {2}reviews\[0\]: "nope"/);
    expect(source.state()).toMatchObject({ services: 1, endpoints: 1 });
  });
});
