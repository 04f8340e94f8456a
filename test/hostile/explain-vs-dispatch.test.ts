// explain() must decide as dispatch does: the same route for the same URL, whatever the
// path's spelling (escapes, dot segments, backslashes, case) and the normalisation mode.
// A difference would make `proxyless explain` vouch for a route the request does not take.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMesh, type Mesh, type PathNormalizationOption } from 'proxyless';

const routes = [
  '  - name: exact-admin\n    match: [{ uri: { exact: /admin } }]\n    directResponse: { status: 200, body: { string: exact-admin } }\n',
  '  - name: admin-ci\n    match: [{ uri: { prefix: /Admin/, ignoreUriCase: true } }]\n    directResponse: { status: 200, body: { string: admin-ci } }\n',
  '  - name: regex\n    match: [{ uri: { regex: "/a+/[0-9]+" } }]\n    directResponse: { status: 200, body: { string: regex } }\n',
  '  - name: query\n    match: [{ queryParams: { q: { exact: "a b" } } }]\n    directResponse: { status: 200, body: { string: query } }\n',
  '  - name: slashes\n    match: [{ uri: { prefix: "/x/y" } }]\n    directResponse: { status: 200, body: { string: slashes } }\n',
  '  - name: fallback\n    directResponse: { status: 200, body: { string: fallback } }\n',
];
const config = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: app }\nspec:\n  hosts: [app]\n  http:\n${routes.join('')}`;

const PIECES = ['/', '//', '\\', '.', '..', 'a', 'A', '1', 'admin', 'Admin', 'x', 'y', '%2e', '%2E', '%2f', '%5C', '%61', '%41', '%31', '%20', ' ', 'é', '?q=a%20b', '?q=a+b', '#f'];
const pathArb = fc.array(fc.constantFrom(...PIECES), { maxLength: 8 }).map((parts) => `/${parts.join('')}`);

const meshes = new Map<string, Mesh>();
afterAll(async () => {
  await Promise.all([...meshes.values()].map((m) => m.close()));
});

describe('explain and dispatch agree', () => {
  it.each<PathNormalizationOption['normalization']>(['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES', 'NONE'])('with %s, for any path spelling (property)', async (normalization) => {
    const mesh = createMesh({ config, pathNormalization: { normalization } });
    meshes.set(normalization, mesh);
    await fc.assert(
      fc.asyncProperty(pathArb, async (path) => {
        const url = `http://app${path}`;
        const explained = await mesh.explain(url).then(
          (e) => e.routes.find((r) => r.matched)?.route ?? 'none',
          (error: Error) => `error ${error.constructor.name}`,
        );
        const dispatched = await request(url, { dispatcher: mesh.dispatcher }).then(
          (r) => r.body.text(),
          (error: Error) => `error ${error.constructor.name}`,
        );
        expect({ path, explained }).toEqual({ path, explained: dispatched });
      }),
      { numRuns: 300 },
    );
  });
});
