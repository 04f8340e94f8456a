// formatValue names a rejected value in config and option errors: it must say what the
// value was, whatever the value (a BigInt or a symbol inside an object, a cycle).
import { describe, expect, it } from 'vitest';
import { formatValue } from '../../../src/core/validate.js';

describe('formatValue', () => {
  it('writes a BigInt inside an object or array as the BigInt, not "[object Object]"', () => {
    expect(formatValue({ delay: 10n })).toBe('{"delay":"10n"}');
    expect(formatValue([1n, 2])).toBe('["1n",2]');
  });

  it('still cuts a long value to 80 characters and names a cycle by its kind', () => {
    expect(formatValue({ a: 'x'.repeat(200) })).toHaveLength(80);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(formatValue(cyclic)).toBe('[object Object]');
  });
});
