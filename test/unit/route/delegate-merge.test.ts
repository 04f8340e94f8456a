// Delegate route merging, case by case from Istio's rules (semantics.md §7), and a property:
// a merged match never matches more than the root match it came from.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeHttpRoutes, type HttpMatch, type HttpRoute } from '../../../src/config/delegate-merge.js';

const route = (match?: HttpMatch[], extra: Partial<HttpRoute> = {}): HttpRoute => ({ ...(match ? { match } : {}), route: [{ destination: { host: 'x' } }], ...extra }) as HttpRoute;
const merge = (root: HttpMatch[] | undefined, delegate: HttpMatch[] | undefined) => {
  const dropped: number[] = [];
  const out = mergeHttpRoutes({ ...route(root), route: undefined, delegate: { name: 'd' } } as HttpRoute, [route(delegate)], (_r, i) => dropped.push(i));
  return dropped.length > 0 ? 'conflict' : out[0]!.route.match;
};

describe('delegate route merging', () => {
  it.each<[string, HttpMatch[] | undefined, HttpMatch[] | undefined, HttpMatch[] | 'conflict' | undefined]>([
    ['no root matches: the delegate\'s', undefined, [{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/a' } }]],
    ['no delegate matches: the root\'s', [{ uri: { prefix: '/a' } }], undefined, [{ uri: { prefix: '/a' } }]],
    ['prefix under prefix', [{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/a/b' } }], [{ uri: { prefix: '/a/b' } }]],
    ['exact under prefix', [{ uri: { prefix: '/a' } }], [{ uri: { exact: '/a/b' } }], [{ uri: { exact: '/a/b' } }]],
    ['prefix outside prefix', [{ uri: { prefix: '/a/b' } }], [{ uri: { prefix: '/a' } }], 'conflict'],
    ['prefix under exact', [{ uri: { exact: '/a' } }], [{ uri: { prefix: '/a' } }], 'conflict'],
    ['same exact', [{ uri: { exact: '/a' } }], [{ uri: { exact: '/a' } }], [{ uri: { exact: '/a' } }]],
    ['regex on either side', [{ uri: { regex: '/a.*' } }], [{ uri: { regex: '/a.*' } }], 'conflict'],
    ['root matcher without a value', [{ uri: {} }], [{ uri: { prefix: '/a' } }], 'conflict'],
    ['ignoreUriCase differs', [{ uri: { prefix: '/a' }, ignoreUriCase: true }], [{ uri: { prefix: '/a' } }], 'conflict'],
    ['headers joined, the delegate winning', [{ headers: { a: { exact: '1' } } }], [{ headers: { b: { exact: '2' } } }], [{ headers: { a: { exact: '1' }, b: { exact: '2' } } }]],
    ['a header narrowed', [{ headers: { a: { prefix: 'x' } } }], [{ headers: { a: { exact: 'xy' } } }], [{ headers: { a: { exact: 'xy' } } }]],
    ['ports differ', [{ port: 80 }], [{ port: 81 }], 'conflict'],
    ['gateways not a subset', [{ gateways: ['mesh'] }], [{ gateways: ['mesh', 'gw'] }], 'conflict'],
    ['one of two root matches fits', [{ uri: { prefix: '/a' } }, { uri: { prefix: '/b' } }], [{ uri: { prefix: '/b/c' } }], [{ uri: { prefix: '/b/c' } }]],
  ])('%s', (_title, root, delegate, expected) => {
    expect(merge(root, delegate)).toEqual(expected);
  });

  it('names join as root-delegate; unset route fields come from the root', () => {
    const root = { name: 'api', match: [{ name: 'm', uri: { prefix: '/a' } }], timeout: '1s', headers: { request: { set: { a: '1' } } }, delegate: { name: 'd' } } as HttpRoute;
    const [merged] = mergeHttpRoutes(root, [route([{ name: 'n', uri: { prefix: '/a/b' } }], { name: 'sub', headers: { request: { set: { b: '2' } } } })], () => {});
    expect(merged!.route).toMatchObject({ name: 'api-sub', timeout: '1s', headers: { request: { set: { b: '2' } } }, match: [{ name: 'm-n' }] });
    expect(merged!.route.delegate).toBeUndefined();
  });

  it('a merged uri prefix always starts with the root prefix it narrows (property)', () => {
    const segment = fc.constantFrom('a', 'b', 'ab', '');
    const path = fc.array(segment, { maxLength: 3 }).map((s) => `/${s.join('/')}`);
    fc.assert(
      fc.property(path, path, (rootPrefix, leafPrefix) => {
        const out = merge([{ uri: { prefix: rootPrefix } }], [{ uri: { prefix: leafPrefix } }]);
        if (out === 'conflict') expect(leafPrefix.startsWith(rootPrefix)).toBe(false);
        else expect(out![0]!.uri!.prefix!.startsWith(rootPrefix)).toBe(true);
      }),
    );
  });
});
