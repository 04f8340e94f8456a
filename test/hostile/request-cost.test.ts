// Request data whose cost is more than linear in its size: a path or a header an
// attacker sends (through an application that forwards it) must not block the event
// loop. Each case sends an input that took seconds to minutes before its fix and takes
// milliseconds after; the bound checked (a second of event-loop block) is generous so a
// slow shared machine cannot fail it, and far below what the old code took.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { createMesh, type Mesh } from 'proxyless';

const meshes: Mesh[] = [];
afterAll(async () => {
  await Promise.all(meshes.map((m) => m.close()));
});

/** The longest the event loop was blocked while `work` ran, in ms. */
async function longestBlock(work: () => Promise<void>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    // The histogram's timer must have started ticking: a block that begins before its
    // first tick is not recorded.
    await new Promise((resolve) => setTimeout(resolve, 25));
    await work();
    // One more timer turn: a block that just ended is recorded then.
    await new Promise((resolve) => setTimeout(resolve, 25));
  } finally {
    histogram.disable();
  }
  return histogram.max / 1e6;
}

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
