import { describe, expect, it } from 'vitest';
import { interpretReply } from '../../../../src/discovery/dns/internal-message.js';
import { a, aaaa, reply, srv, type Rec } from './fake-transport.js';

const cname = (name: string, target: string, ttl: number): Rec => ({ type: 'CNAME', name, ttl, data: target });

describe('reading DNS replies', () => {
  it('A records of the name, the smallest TTL, invalid data skipped', () => {
    const packet = reply('svc.test', 'A', { records: [a('svc.test', '127.0.0.1', 30), a('SVC.test', '127.0.0.2', 5), a('other.test', '127.0.0.3', 1)] });
    expect(interpretReply(packet, 'svc.test', 'A', 0)).toEqual({ kind: 'addresses', addresses: ['127.0.0.1', '127.0.0.2'], ttl: 5 });
  });

  it('follows a CNAME chain inside the answer, its TTLs counting', () => {
    const packet = reply('www.test', 'AAAA', {
      records: [cname('www.test', 'edge.test', 7), cname('edge.test', 'host.test', 60), aaaa('host.test', '::1', 30)],
    });
    expect(interpretReply(packet, 'www.test', 'AAAA', 0)).toEqual({ kind: 'addresses', addresses: ['::1'], ttl: 7 });
  });

  it('an alias the reply leaves unresolved asks for its target', () => {
    const packet = reply('www.test', 'A', { records: [cname('www.test', 'elsewhere.example', 20)] });
    expect(interpretReply(packet, 'www.test', 'A', 0)).toEqual({ kind: 'cname', target: 'elsewhere.example', ttl: 20 });
  });

  it('SRV records with target addresses from the additional section, for the families asked', () => {
    const packet = reply('_http._tcp.s.test', 'SRV', {
      records: [srv('_http._tcp.s.test', 'a.test', 8080, 10, 5, 30), srv('_http._tcp.s.test', 'b.test', 8081, 20, 0, 30)],
      additionals: [a('a.test', '127.0.0.1', 4), aaaa('a.test', '::1', 2)],
    });
    expect(interpretReply(packet, '_http._tcp.s.test', 'SRV', 4)).toEqual({
      kind: 'srv',
      ttl: 4,
      records: [
        { priority: 10, weight: 5, port: 8080, target: 'a.test', addresses: ['127.0.0.1'] },
        { priority: 20, weight: 0, port: 8081, target: 'b.test', addresses: undefined },
      ],
    });
    expect(interpretReply(packet, '_http._tcp.s.test', 'SRV', 0)).toMatchObject({ ttl: 2, records: [{ addresses: ['127.0.0.1', '::1'] }, {}] });
  });

  it('NXDOMAIN and NODATA carry the SOA times for negative caching', () => {
    expect(interpretReply(reply('x.test', 'A', { rcode: 'NXDOMAIN', soa: { ttl: 60, minimum: 5 } }), 'x.test', 'A', 0)).toEqual({
      kind: 'nxdomain',
      soa: { ttl: 60, minimum: 5 },
    });
    expect(interpretReply(reply('x.test', 'AAAA', { rcode: 'NOERROR' }), 'x.test', 'AAAA', 0)).toEqual({ kind: 'nodata', soa: undefined });
  });
});
