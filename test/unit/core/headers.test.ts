import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getHeader, hasHeader, withHeader } from '../../../src/core/headers.js';

describe('header helpers accept every shape undici takes', () => {
  it.each<[string, unknown]>([
    ['object', { Host: 'a', 'X-Y': '1' }],
    ['flat array', ['Host', 'a', 'X-Y', '1']],
    ['iterable of pairs', new Map([['host', 'a'], ['x-y', '1']])],
  ])('%s', (_name, headers) => {
    expect(getHeader(headers as never, 'host')).toBe('a');
    expect(hasHeader(headers as never, 'x-y')).toBe(true);
    expect(getHeader(headers as never, 'missing')).toBeUndefined();
    const added = withHeader(headers as never, 'x-new', 'v');
    expect(getHeader(added, 'x-new')).toBe('v');
    expect(getHeader(added, 'host')).toBe('a');
    expect(added).not.toBe(headers);
  });

  it('undefined headers', () => {
    expect(getHeader(undefined, 'host')).toBeUndefined();
    expect(withHeader(undefined, 'host', 'h')).toEqual({ host: 'h' });
  });

  it('withHeader never mutates the caller’s headers, in any shape (property)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z-]{1,8}$/), fc.string()), (dictionary) => {
        const entries = Object.entries(dictionary);
        for (const make of [() => ({ ...dictionary }), () => entries.flat(), () => new Map(entries)]) {
          const headers = make();
          withHeader(headers as never, 'x-added', '1');
          expect(headers).toEqual(make());
        }
      }),
    );
  });
});
