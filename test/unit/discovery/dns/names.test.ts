import { describe, expect, it } from 'vitest';
import { isQueryableName, resolutionSteps, srvName } from '../../../../src/discovery/dns/internal-names.js';
import { ServiceNamer } from '../../../../src/discovery/service-name.js';

const namer = new ServiceNamer('bookinfo', 'cluster.local');

describe('which DNS names a service is resolved with, in order', () => {
  it('Kubernetes spellings: the FQDN first, then the host as written', () => {
    expect(resolutionSteps(namer.name('reviews'), undefined, true)).toEqual([
      { kind: 'address', name: 'reviews.bookinfo.svc.cluster.local' },
      { kind: 'address', name: 'reviews' },
    ]);
    expect(resolutionSteps(namer.name('reviews.bookinfo'), undefined, true)).toEqual([
      { kind: 'address', name: 'reviews.bookinfo.svc.cluster.local' },
      { kind: 'address', name: 'reviews.bookinfo' },
    ]);
    expect(resolutionSteps(namer.name('Reviews.Bookinfo.svc.cluster.local.'), undefined, true)).toEqual([
      { kind: 'address', name: 'reviews.bookinfo.svc.cluster.local' },
    ]);
  });

  it('SRV first for each name (headless services), then its addresses when addressFallback is on', () => {
    expect(resolutionSteps(namer.name('reviews'), '_http._tcp.{name}', true)).toEqual([
      { kind: 'srv', name: '_http._tcp.reviews.bookinfo.svc.cluster.local' },
      { kind: 'address', name: 'reviews.bookinfo.svc.cluster.local' },
      { kind: 'srv', name: '_http._tcp.reviews' },
      { kind: 'address', name: 'reviews' },
    ]);
    expect(resolutionSteps(namer.name('echo.ns.svc.test'), '_grpc._tcp.{name}', false)).toEqual([
      { kind: 'srv', name: '_grpc._tcp.echo.ns.svc.test' },
    ]);
  });

  it('an external name is asked as written', () => {
    expect(resolutionSteps(namer.name('api.example.com'), undefined, true)).toEqual([{ kind: 'address', name: 'api.example.com' }]);
  });

  it('IP addresses and names DNS cannot carry give no step', () => {
    expect(resolutionSteps(namer.name('10.0.0.1'), undefined, true)).toEqual([]);
    expect(resolutionSteps(namer.name('::1'), '_http._tcp.{name}', true)).toEqual([]);
    const long = `${'a'.repeat(64)}.example.com`;
    expect(resolutionSteps(namer.name(long), undefined, true)).toEqual([]);
  });

  it('names and SRV patterns', () => {
    expect(srvName('_http._tcp.{name}', 'reviews.bookinfo.svc.cluster.local')).toBe('_http._tcp.reviews.bookinfo.svc.cluster.local');
    expect(isQueryableName('_http._tcp.a-b.c')).toBe(true);
    expect(isQueryableName('a..b')).toBe(false);
    expect(isQueryableName('-a.b')).toBe(false);
    expect(isQueryableName(`${'a.'.repeat(127)}a`)).toBe(false);
  });
});
