import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../../src/core/errors/index.js';
import { dns } from '../../../../src/discovery/dns/index.js';
import { parseServer, resolveDnsOptions } from '../../../../src/discovery/dns/internal-options.js';

function problems(options: unknown): readonly string[] {
  try {
    resolveDnsOptions(options as never);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
  throw new Error('accepted invalid options');
}

describe('dns() option validation', () => {
  it.each<[string, unknown, string]>([
    ['not an object', 'x', 'options: "x" (expected: an object)'],
    ['servers not an array', { servers: '10.0.0.10' }, 'servers: "10.0.0.10" (expected: an array of server addresses'],
    ['an empty server list', { servers: [] }, 'servers: [] (expected: at least one server (leave servers out to use the system resolvers))'],
    ['a host name as server', { servers: ['dns.example.com'] }, 'servers[0]: "dns.example.com" (expected: an IP address with an optional port'],
    ['a bad port', { servers: ['10.0.0.10:0'] }, 'servers[0]: "10.0.0.10:0" (expected: a port from 1 to 65535)'],
    ['IPv6 with a port but no brackets', { servers: ['::1:5353x'] }, 'servers[0]: "::1:5353x" (expected: an IPv6 address, in brackets when a port follows'],
    ['a pattern without {name}', { srv: { pattern: '_http._tcp' } }, 'srv.pattern: "_http._tcp" (expected: a DNS name containing {name}'],
    ['srv of the wrong type', { srv: 'yes' }, 'srv: "yes" (expected: true, false, or { pattern?, addressFallback? })'],
    ['unknown srv field', { srv: { patern: 'x' } }, 'srv.patern: unknown field (expected one of: pattern, addressFallback)'],
    ['a bad family', { family: 5 }, 'family: 5 (expected: 0 (A and AAAA), 4 (A) or 6 (AAAA))'],
    ['zero timeout', { timeout: 0 }, 'timeout: 0 (expected: >= 1)'],
    ['timeout in seconds as a string', { timeout: '1s' }, 'timeout: "1s" (expected: a number of milliseconds)'],
    ['fractional attempts', { attempts: 1.5 }, 'attempts: 1.5 (expected: an integer)'],
    ['minTtl too small', { minTtl: 10 }, 'minTtl: 10 (expected: >= 100)'],
    ['minTtl above maxTtl', { minTtl: 60_000, maxTtl: 30_000 }, 'maxTtl: 30000 (expected: >= minTtl, which is 60000)'],
    ['maxNegativeTtl below minTtl', { minTtl: 5000, maxNegativeTtl: 1000 }, 'maxNegativeTtl: 1000 (expected: >= minTtl, which is 5000)'],
    ['negative maxStale', { maxStale: -1 }, 'maxStale: -1 (expected: >= 0)'],
    ['a typo', { server: ['10.0.0.10'] }, 'server: unknown field (expected one of: servers, srv, family, timeout, attempts, minTtl, maxTtl, maxNegativeTtl, maxStale)'],
  ])('%s', (_name, options, expected) => {
    const lines = problems(options);
    expect(lines.some((l) => l.startsWith(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('reports every problem at once, naming dns()', () => {
    expect(() => dns({ timeout: -1, attempts: 0, servers: ['x'] } as never)).toThrow(/^dns: invalid options:\n {2}timeout: -1 \(expected: >= 1\)\n {2}attempts: 0/);
  });

  it('fills in the documented defaults', () => {
    const o = resolveDnsOptions({ servers: ['10.0.0.10'] });
    expect(o).toMatchObject({
      srvPattern: undefined,
      addressFallback: true,
      family: 0,
      timeout: 1000,
      attempts: 2,
      minTtl: 1000,
      maxTtl: 300_000,
      maxNegativeTtl: 30_000,
      maxStale: 3_600_000,
    });
    expect(resolveDnsOptions({ srv: true }).srvPattern).toBe('_http._tcp.{name}');
    expect(resolveDnsOptions({ srv: { pattern: '_grpc._tcp.{name}', addressFallback: false } })).toMatchObject({
      srvPattern: '_grpc._tcp.{name}',
      addressFallback: false,
    });
    // Without servers: the system's resolvers.
    expect(resolveDnsOptions({}).servers.length).toBeGreaterThan(0);
  });

  it('reads servers as written, port 53 by default', () => {
    expect(parseServer('10.0.0.10')).toEqual({ address: '10.0.0.10', port: 53, family: 4, label: '10.0.0.10:53' });
    expect(parseServer('127.0.0.1:5353')).toEqual({ address: '127.0.0.1', port: 5353, family: 4, label: '127.0.0.1:5353' });
    expect(parseServer('[::1]:53')).toEqual({ address: '::1', port: 53, family: 6, label: '[::1]:53' });
    expect(parseServer('[0:0:0:0:0:0:0:1]')).toEqual({ address: '::1', port: 53, family: 6, label: '[::1]:53' });
    expect(parseServer('fd00::a')).toEqual({ address: 'fd00::a', port: 53, family: 6, label: '[fd00::a]:53' });
  });

  it('names the source after its servers', async () => {
    const one = dns({ servers: ['10.0.0.10'] });
    const two = dns({ servers: ['127.0.0.1:5353', '[::1]:53'] });
    expect(one.name).toBe('dns(10.0.0.10)');
    expect(two.name).toBe('dns(127.0.0.1:5353,::1)');
    await Promise.all([one.close(), two.close()]);
  });
});
