// Path normalisation before route matching, against a real backend that reports the
// path it received. Every way into the mesh is tried: mesh.fetch, undici.request with
// the dispatcher (which passes paths as written), and the global dispatcher.
import { getGlobalDispatcher, request, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, InvalidOptionError, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { startBackend, type Backend } from '../../helpers/backends.js';

// `/admin` is refused by the mesh itself; everything else reaches the backend, which
// answers with the path it received.
const CONFIG = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app }
spec:
  hosts: [app]
  http:
  - name: admin
    match: [{ uri: { prefix: /admin } }]
    directResponse: { status: 403, body: { string: blocked } }
  - name: rest
    route: [{ destination: { host: app } }]
`;

describe('path normalisation before routing', () => {
  let backend: Backend;
  const meshes: Mesh[] = [];
  const meshWith = (options: Partial<MeshOptions> = {}): Mesh => {
    const mesh = createMesh({ discovery: [staticEndpoints({ app: [backend.address] })], config: CONFIG, ...options });
    meshes.push(mesh);
    return mesh;
  };
  /**
   * `dispatcher.request`: the path reaches the mesh exactly as written. (undici's
   * top-level `request()` and fetch parse the URL first, which resolves dot segments but
   * not `%61`; without a dispatcher, that is the global one.)
   */
  const raw = async (dispatcher: Dispatcher | undefined, path: string): Promise<{ status: number; body: string }> => {
    const options = { origin: 'http://app', path, method: 'GET' } as const;
    const res = dispatcher ? await dispatcher.request(options) : await request(options as Parameters<typeof request>[0]);
    return { status: res.statusCode, body: await res.body.text() };
  };

  beforeAll(async () => {
    backend = await startBackend({ id: 'app', handle: (req, res) => res.end(req.url) });
  });
  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.close()));
    await backend.close();
  });

  // Regression: each of these reached the backend's /admin past the `prefix: /admin` route.
  it.each(['/%61dmin', '/%61%64%6D%69%6E/users', '/x/../admin', '/x/%2e%2e/admin', '/x/%2E%2E/admin', '/x\\..\\admin', '/./admin', '/x/..\\admin'])(
    '%s is /admin for mesh.dispatcher.request',
    async (path) => {
      const mesh = meshWith();
      expect(await raw(mesh.dispatcher, path)).toEqual({ status: 403, body: 'blocked' });
    },
  );

  it('mesh.fetch and the global dispatcher see the same normal form', async () => {
    const mesh = meshWith();
    expect((await mesh.fetch('http://app/%61dmin')).status).toBe(403);
    expect((await mesh.fetch('http://app/x/%2e%2e/admin')).status).toBe(403);
    const previous = getGlobalDispatcher();
    setGlobalDispatcher(mesh.dispatcher);
    try {
      expect(await raw(undefined, '/x/../%61dmin')).toEqual({ status: 403, body: 'blocked' });
      expect((await fetch('http://app/%61dmin')).status).toBe(403);
    } finally {
      setGlobalDispatcher(previous);
    }
  });

  it('the normalised path is what the backend receives (the query untouched)', async () => {
    const mesh = meshWith();
    expect(await raw(mesh.dispatcher, '/api/%7Euser/./x/../b%2Fc?q=/../%61')).toEqual({ status: 200, body: '/api/~user/b%2Fc?q=/../%61' });
    expect(await raw(mesh.dispatcher, '/a b')).toEqual({ status: 200, body: '/a%20b' });
  });

  it('MERGE_SLASHES and DECODE_AND_MERGE_SLASHES, as Istio configures them', async () => {
    const merge = meshWith({ pathNormalization: { normalization: 'MERGE_SLASHES' } });
    expect(await raw(merge.dispatcher, '//admin')).toEqual({ status: 403, body: 'blocked' });
    expect(await raw(merge.dispatcher, '/a//b%2fc')).toEqual({ status: 200, body: '/a/b%2fc' });
    const decode = meshWith({ pathNormalization: { normalization: 'DECODE_AND_MERGE_SLASHES' } });
    expect(await raw(decode.dispatcher, '/x%2f..%2fadmin')).toEqual({ status: 403, body: 'blocked' });
    expect(await raw(decode.dispatcher, '/a%2F%2Fb%5Cc')).toEqual({ status: 200, body: '/a/b/c' });
    const base = meshWith({ pathNormalization: { normalization: 'DEFAULT' } });
    expect(await raw(base.dispatcher, '//admin')).toEqual({ status: 200, body: '//admin' });
  });

  it('NONE leaves the path as it is (and a fragment is never sent)', async () => {
    const none = meshWith({ pathNormalization: { normalization: 'NONE' } });
    expect(await raw(none.dispatcher, '/%61dmin')).toEqual({ status: 200, body: '/%61dmin' });
    expect(await raw(none.dispatcher, '/a#fragment')).toEqual({ status: 200, body: '/a' });
  });

  it('a NUL byte in the path is refused before anything is sent', async () => {
    const mesh = meshWith();
    const before = backend.requests;
    await expect(raw(mesh.dispatcher, '/a%00b')).rejects.toMatchObject({ code: 'PROXYLESS_ERR_INVALID_REQUEST' });
    expect(backend.requests).toBe(before);
  });

  it('explain matches the normalised path, and refuses what is not an http(s) URL', async () => {
    const mesh = meshWith();
    const explained = await mesh.explain('http://app/%61dmin');
    expect(explained.action).toBe('direct-response');
    await expect(mesh.explain('not a url')).rejects.toMatchObject({ code: 'PROXYLESS_ERR_INVALID_REQUEST' });
    await expect(mesh.explain('ftp://app/')).rejects.toMatchObject({ code: 'PROXYLESS_ERR_INVALID_REQUEST' });
  });

  it('the option is validated like every other', () => {
    expect(() => createMesh({ pathNormalization: { normalization: 'SOMETIMES' } as never })).toThrow(InvalidOptionError);
    expect(() => createMesh({ pathNormalization: { normalization: 'SOMETIMES' } as never })).toThrow(
      'pathNormalization.normalization: "SOMETIMES" (expected: one of "DEFAULT", "NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES")',
    );
  });
});
