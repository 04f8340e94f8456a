import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDiscoveryUpdate, MAX_UPDATE_ENDPOINTS } from '../../../src/discovery/check-update.js';
import type { Endpoint } from '../../../src/discovery/types.js';

const endpointArb = fc.record({
  address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
  port: fc.integer({ min: 1, max: 65535 }),
  weight: fc.integer({ min: 1, max: 1_000_000 }),
  labels: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
});

describe('checkDiscoveryUpdate', () => {
  it('passes every well-formed update through, keeping endpoint objects already in normal form', () => {
    fc.assert(
      fc.property(fc.constantFrom('reset', 'add', 'remove'), fc.array(endpointArb, { maxLength: 5 }), (type, endpoints) => {
        const checked = checkDiscoveryUpdate({ type, endpoints });
        expect(checked.ok).toBe(true);
        if (!checked.ok || checked.update.type === 'missing') return;
        expect(checked.update.type).toBe(type);
        expect(checked.update.endpoints.map((e) => `${e.address} ${e.port}`)).toEqual(endpoints.map((e) => `${e.address} ${e.port}`));
        if (type !== 'remove') checked.update.endpoints.forEach((e, i) => expect(e).toBe(endpoints[i]));
      }),
    );
    expect(checkDiscoveryUpdate({ type: 'missing' })).toEqual({ ok: true, update: { type: 'missing' } });
  });

  it('fills in a missing weight and labels', () => {
    const checked = checkDiscoveryUpdate({ type: 'reset', endpoints: [{ address: '10.0.0.1', port: 80 }] });
    expect(checked).toEqual({ ok: true, update: { type: 'reset', endpoints: [{ address: '10.0.0.1', port: 80, weight: 1, labels: {} } satisfies Endpoint] } });
  });

  it('names the field, the value and what was expected for each way an update can be wrong', () => {
    const problem = (update: unknown) => {
      const checked = checkDiscoveryUpdate(update);
      return checked.ok ? 'ok' : checked.problem;
    };
    expect(problem(null)).toBe('update: null (expected: an object such as { type: "reset", endpoints: [...] })');
    expect(problem(undefined)).toBe('update: undefined (expected: an object such as { type: "reset", endpoints: [...] })');
    expect(problem([])).toBe('update: [] (expected: an object such as { type: "reset", endpoints: [...] })');
    expect(problem({ type: 'replace' })).toBe('type: "replace" (expected: "reset", "add", "remove" or "missing")');
    expect(problem({ type: 'reset', endpoints: 5 })).toBe('endpoints: 5 (expected: an array of endpoints)');
    expect(problem({ type: 'reset', endpoints: [null] })).toBe('endpoints[0]: null (expected: { address, port, weight?, labels? })');
    expect(problem({ type: 'add', endpoints: [{ address: 5, port: 80 }] })).toBe('endpoints[0].address: 5 (expected: an IP address or host name)');
    expect(problem({ type: 'add', endpoints: [{ address: '10.0.0.1', port: '80' }] })).toBe('endpoints[0].port: "80" (expected: an integer from 1 to 65535)');
    expect(problem({ type: 'remove', endpoints: [{ address: '10.0.0.1' }] })).toBe('endpoints[0].port: undefined (expected: an integer from 1 to 65535)');
    expect(problem({ type: 'reset', endpoints: [{ address: '10.0.0.1', port: 1, labels: { v: 2 } }] })).toBe('endpoints[0].labels.v: 2 (expected: a string)');
    expect(problem({ type: 'reset', endpoints: { length: 1e9 } })).toBe('endpoints: {"length":1000000000} (expected: an array of endpoints)');
    expect(problem({ type: 'reset', endpoints: new Array(MAX_UPDATE_ENDPOINTS + 1) })).toBe(`endpoints: ${MAX_UPDATE_ENDPOINTS + 1} endpoints (expected: at most ${MAX_UPDATE_ENDPOINTS} in one update)`);
    const throwing = Object.defineProperty({ type: 'reset' }, 'endpoints', {
      get() {
        throw new Error('boom');
      },
    });
    expect(problem(throwing)).toBe('reading the update threw: boom');
    expect(problem({ type: 'reset', endpoints: [{ address: '10.0.0.1', port: 10n }] })).toBe('endpoints[0].port: 10n (expected: an integer from 1 to 65535)');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }), (value) => {
        expect(() => checkDiscoveryUpdate(value)).not.toThrow();
        expect(() => checkDiscoveryUpdate({ type: 'reset', endpoints: [value] })).not.toThrow();
      }),
    );
  });
});
