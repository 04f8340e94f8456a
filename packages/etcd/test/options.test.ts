import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from 'proxyless';
import { etcdConfig, etcdDiscovery, register } from '../src/index.js';

/** The problems an options check reports, or the error if it threw something else. */
function problems(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidOptionError) return error.problems;
    throw error;
  }
  throw new Error('expected InvalidOptionError');
}

describe('option validation names the field, the value and what was expected', () => {
  it('etcdDiscovery', () => {
    expect(problems(() => etcdDiscovery({} as never))).toEqual([
      'endpoints: undefined (expected: a list of etcd client URLs such as ["http://127.0.0.1:2379"], or a client)',
    ]);
    expect(problems(() => etcdDiscovery({ endpoints: ['127.0.0.1:2379', 'http://127.0.0.1'], prefix: 'services' }))).toEqual([
      'endpoints[0]: "127.0.0.1:2379" (expected: an etcd client URL with scheme and port, such as "http://127.0.0.1:2379")',
      'endpoints[1]: "http://127.0.0.1" (expected: an etcd client URL with scheme and port, such as "http://127.0.0.1:2379")',
      'prefix: "services" (expected: an etcd key prefix starting with "/", such as "/services")',
    ]);
    expect(problems(() => etcdDiscovery({ endpoints: [], prefx: '/s' } as never))).toEqual([
      'prefx: unknown field (expected one of: endpoints, clientOptions, client, prefix)',
      'endpoints: [] (expected: a non-empty list of etcd client URLs such as ["http://127.0.0.1:2379"])',
    ]);
    expect(problems(() => etcdDiscovery({ endpoints: ['http://127.0.0.1:2379', 'https://127.0.0.1:2380'] }))).toEqual([
      'endpoints: ["http://127.0.0.1:2379","https://127.0.0.1:2380"] (expected: all http:// or all https://, not a mix)',
    ]);
    expect(problems(() => etcdDiscovery('http://127.0.0.1:2379' as never))).toEqual([
      'options: "http://127.0.0.1:2379" (expected: an object such as { endpoints: ["http://127.0.0.1:2379"], prefix: "/services" })',
    ]);
    expect(
      problems(() => etcdDiscovery({ client: {} as never, endpoints: ['http://127.0.0.1:2379'], clientOptions: { hosts: 'x' } as never })),
    ).toEqual([
      'client: {} (expected: an Etcd3 client from the etcd3 package)',
      'endpoints: ["http://127.0.0.1:2379"] (expected: endpoints or client, not both; the client already knows its hosts)',
      'clientOptions: {"hosts":"x"} (expected: only with endpoints; the given client was configured already)',
      'clientOptions.hosts: "x" (expected: no hosts here; give them as endpoints)',
    ]);
  });

  it('register', () => {
    const endpoints = ['http://127.0.0.1:2379'];
    expect(
      problems(() =>
        register({
          endpoints,
          service: 'reviews_v1',
          endpoint: { address: '10.0.0.5', port: 70000 },
          instanceId: 'a/b',
          ttl: 0.5,
          drainDelay: 100,
        }),
      ),
    ).toEqual([
      'service: "reviews_v1" (expected: a DNS-style service name such as "reviews" or "reviews.bookinfo")',
      'endpoint.port: 70000 (expected: an integer from 1 to 65535)',
      'instanceId: "a/b" (expected: a non-empty string without "/" or spaces, such as "reviews-7d9f-abc12")',
      'ttl: 0.5 (expected: a whole number of seconds from 1 to 86400)',
      'drainDelay: 100 (expected: only together with server)',
    ]);
    expect(problems(() => register({ endpoints, service: 'reviews', endpoint: '10.0.0.5:9080' as never, server: {} as never }))).toEqual([
      'endpoint: "10.0.0.5:9080" (expected: an object { "address": "10.0.0.5", "port": 9080, "weight"?: 1, "labels"?: { ... } })',
      'server: {} (expected: an object with a close() method, such as an http.Server)',
    ]);
  });

  it('etcdConfig', () => {
    expect(problems(() => etcdConfig({ endpoints: ['http://127.0.0.1:2379'] } as never))).toEqual([
      'key: undefined (expected: an etcd key such as "/mesh/config")',
    ]);
  });

  it('the error says where: the factory name and every problem on its own line', () => {
    expect(() => etcdConfig({ endpoints: ['x'], key: '' })).toThrow(
      'etcdConfig: invalid options:\n' +
        '  endpoints[0]: "x" (expected: an etcd client URL with scheme and port, such as "http://127.0.0.1:2379")\n' +
        '  key: "" (expected: an etcd key such as "/mesh/config")',
    );
  });
});
