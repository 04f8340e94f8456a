import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceNamer } from '../../../src/discovery/service-name.js';

describe('ServiceNamer (Kubernetes DNS search-path rules)', () => {
  const namer = new ServiceNamer('bookinfo', 'cluster.local');

  it.each([
    ['reviews', 'reviews.bookinfo.svc.cluster.local', ['reviews', 'reviews.bookinfo', 'reviews.bookinfo.svc', 'reviews.bookinfo.svc.cluster.local']],
    ['reviews.bookinfo', 'reviews.bookinfo.svc.cluster.local', ['reviews.bookinfo', 'reviews', 'reviews.bookinfo.svc', 'reviews.bookinfo.svc.cluster.local']],
    ['reviews.other', 'reviews.other.svc.cluster.local', ['reviews.other', 'reviews.other.svc', 'reviews.other.svc.cluster.local']],
    ['reviews.other.svc', 'reviews.other.svc.cluster.local', ['reviews.other.svc', 'reviews.other', 'reviews.other.svc.cluster.local']],
    ['Reviews.Bookinfo.SVC.cluster.local.', 'reviews.bookinfo.svc.cluster.local', ['reviews.bookinfo.svc.cluster.local', 'reviews', 'reviews.bookinfo', 'reviews.bookinfo.svc']],
    ['api.example.com', 'api.example.com', ['api.example.com']],
    ['10.0.0.1', '10.0.0.1', ['10.0.0.1']],
    ['::1', '::1', ['::1']],
  ])('%s → %s', (host, fqdn, names) => {
    expect(namer.name(host)).toEqual({ host: host.toLowerCase().replace(/\.$/, ''), fqdn, names });
  });

  it('resolves short names of config resources in their own namespace', () => {
    expect(namer.nameIn('reviews', 'other').fqdn).toBe('reviews.other.svc.cluster.local');
  });

  it('every spelling of a name maps back to the same FQDN (property)', () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
    fc.assert(
      fc.property(label, label, (service, namespace) => {
        const name = namer.name(`${service}.${namespace}`);
        for (const spelling of name.names) {
          expect(namer.name(spelling).fqdn).toBe(name.fqdn);
        }
      }),
    );
  });
});
