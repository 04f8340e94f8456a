// Request data whose cost is more than linear in its size: a path or a header an
// attacker sends (through an application that forwards it) must not block the event
// loop. Each case sends an input that took seconds to minutes before its fix and takes
// milliseconds after; the bound checked (a second of event-loop block) is generous so a
// slow shared machine cannot fail it, and far below what the old code took.
import { afterAll, describe, expect, it } from 'vitest';
import { createMesh, layer, staticEndpoints, type Mesh } from 'proxyless';
import { longestBlock } from '../helpers/event-loop.js';

const meshes: Mesh[] = [];
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
});

const vs = (http: string): string =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: app }\nspec:\n  hosts: [app]\n  http:\n${http}`;

/** A mesh that answers every request itself (a direct response echoing nothing), after path normalisation. */
function answering(http = '  - directResponse: { status: 200, body: { string: "ok" } }\n'): Mesh {
  const mesh = createMesh({ config: vs(http) });
  meshes.push(mesh);
  return mesh;
}

async function status(mesh: Mesh, path: string): Promise<number> {
  const res = await mesh.dispatcher.request({ origin: 'http://app', path, method: 'GET' });
  await res.body.text();
  return res.statusCode;
}

describe('path normalisation is linear in the path', () => {
  // Each path needs the slow path (a space to encode) and then many steps that used to
  // re-read the whole output built so far: a dot after a non-slash (the last character
  // of the output was read), a stray % before an escaped hex digit (the output was cut
  // and joined), `..` segments over a deep path (a search back through it).
  const N = 128 * 1024;
  it.each([
    ['dots inside segments', `/ ${'x.'.repeat(N / 2)}`],
    ['stray percent signs before escaped hex digits', `/ ${'%%41'.repeat(N / 4)}`],
    ['a deep path climbed back with ..', `/ ${'a/'.repeat(N / 4)}${'../'.repeat(N / 6)}`],
  ])('%s (%#: about 128 K characters)', async (_name, path) => {
    const mesh = answering();
    const blocked = await longestBlock(async () => {
      expect(await status(mesh, path)).toBe(200);
    });
    // Before the fix: 8 s to over a minute for each of these (the output was a rope,
    // flattened again at every step).
    expect(blocked).toBeLessThan(1000);
  });
});

describe('uriRegexRewrite on a hostile path', () => {
  // Every global replace re-runs the search from the end of the last match, and each
  // search may read the rest of the path before it settles on a short match ("a*b" runs
  // on through every "a" before "a" wins): the cost is the number of matches times the
  // path's length. RE2 has the same shape; in a JavaScript engine a 6 K path took about
  // 5 s. The rewrite now has a time budget linear in the path's length, and a request
  // that exceeds it fails with InvalidRequestError instead of holding the event loop.
  it('a pattern that rescans the rest of the path per match is cut off, with an error naming the route and the pattern', async () => {
    const mesh = answering(
      '  - name: legacy\n    rewrite: { uriRegexRewrite: { match: "a*b|a", rewrite: "x" } }\n    route: [{ destination: { host: app } }]\n',
    );
    let failure: unknown;
    const blocked = await longestBlock(async () => {
      failure = await mesh.dispatcher.request({ origin: 'http://app', path: `/${'a'.repeat(6000)}`, method: 'GET' }).then(
        () => undefined,
        (error: unknown) => error,
      );
    });
    expect(blocked).toBeLessThan(1000);
    expect(failure).toMatchObject({ code: 'PROXYLESS_ERR_INVALID_REQUEST' });
    expect((failure as Error).message).toMatch(/^request path of 6001 characters: the uriRegexRewrite "a\*b\|a" of VirtualService\/app .* route legacy took more than \d+ ms/);
  });

  it('an ordinary rewrite of a long path with many matches is not cut off', async () => {
    const mesh = createMesh({
      discovery: [staticEndpoints({ app: ['127.0.0.1:1'] })],
      config: vs('  - rewrite: { uriRegexRewrite: { match: "-", rewrite: "_" } }\n    route: [{ destination: { host: app } }]\n'),
      stacks: {
        // Stands in for the upstream: answers with the path the route made (no server is needed to read it).
        endpoint: (stack) =>
          void stack.replace(
            'pool',
            layer('echo-path', () => (opts, handler) => {
              handler.onRequestStart?.({ abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null } as never, {});
              handler.onResponseStart?.(null as never, 200, {}, 'OK');
              handler.onResponseData?.(null as never, Buffer.from(opts.path));
              handler.onResponseEnd?.(null as never, {});
              return true;
            }),
          ),
      },
    });
    meshes.push(mesh);
    const path = `/${'a-'.repeat(4000)}`;
    const res = await mesh.dispatcher.request({ origin: 'http://app', path, method: 'GET' });
    expect(await res.body.text()).toBe(`/${'a_'.repeat(4000)}`);
  });
});
