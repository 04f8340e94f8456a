import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { endpointKey, parseEndpoint } from '../../../src/discovery/parse-endpoint.js';

describe('parseEndpoint', () => {
  it('reads host:port strings, IPv6 in brackets, and objects', () => {
    expect(parseEndpoint('127.0.0.1:9080', 'x')).toEqual({ address: '127.0.0.1', port: 9080, weight: 1, labels: {} });
    expect(parseEndpoint('[::1]:80', 'x')).toEqual({ address: '::1', port: 80, weight: 1, labels: {} });
    expect(parseEndpoint('reviews-0.reviews:80', 'x')).toMatchObject({ address: 'reviews-0.reviews', port: 80 });
    expect(parseEndpoint({ address: '10.0.0.1', port: 1, weight: 3, labels: { v: '2' } }, 'x')).toEqual({ address: '10.0.0.1', port: 1, weight: 3, labels: { v: '2' } });
  });

  it('the key of an IPv6 endpoint has brackets', () => {
    expect(endpointKey({ address: '::1', port: 80 })).toBe('[::1]:80');
    expect(endpointKey({ address: '10.0.0.1', port: 80 })).toBe('10.0.0.1:80');
  });

  it('round-trips any valid IPv4 address and port (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), (ip, port) => {
        const parsed = parseEndpoint(`${ip}:${port}`, 'e');
        expect(parsed).toEqual({ address: ip, port, weight: 1, labels: {} });
        expect(endpointKey(parsed as { address: string; port: number })).toBe(`${ip}:${port}`);
      }),
    );
  });

  it('never throws on arbitrary input: a value or a problem line naming the field (property)', () => {
    fc.assert(
      fc.property(fc.anything(), (input) => {
        const result = parseEndpoint(input as never, 'svc[3]');
        if (typeof result === 'string') expect(result.startsWith('svc[3]')).toBe(true);
        else expect(result.port).toBeGreaterThan(0);
      }),
    );
  });
});
