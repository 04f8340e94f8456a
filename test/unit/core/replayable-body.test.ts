import fc from 'fast-check';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isReplayable, isStreamBody, replay, ReplayableBody } from '../../../src/core/replayable-body.js';

async function readAll(iterable: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const chunk of iterable) out += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
  return out;
}

/** A source that counts how often it is read, yielding `chunks`. */
function countingSource(chunks: string[]): { source: AsyncIterable<string>; reads: () => number } {
  let reads = 0;
  return {
    reads: () => reads,
    source: {
      async *[Symbol.asyncIterator]() {
        for (const c of chunks) {
          reads++;
          yield c;
        }
      },
    },
  };
}

describe('ReplayableBody', () => {
  it('a view replays what was read, then reads on from the source, which is read once', async () => {
    const { source, reads } = countingSource(['ab', 'cd', 'ef']);
    const body = new ReplayableBody(source, 1024);
    const first = body.view();
    expect((await first.next()).value).toBe('ab'); // a try read part of it, then failed
    expect(isReplayable(first)).toBe(true);
    const second = replay(first) as AsyncIterable<unknown>;
    expect(await readAll(second)).toBe('abcdef');
    expect(reads()).toBe(3);
    let complete: Buffer | undefined;
    body.whenComplete((b) => (complete = b));
    expect(complete?.toString()).toBe('abcdef');
  });

  it('an unread body can always be handed to another try, whatever its size', async () => {
    const body = new ReplayableBody(Readable.from(['x'.repeat(100)]), 8);
    expect(body.unread).toBe(true);
    expect(isReplayable(body.view())).toBe(true);
    expect(await readAll(body.view())).toBe('x'.repeat(100));
  });

  it('past the limit, the reader carries on, the body is no longer replayable, and a view behind fails', async () => {
    const body = new ReplayableBody(Readable.from(['1234', '5678', '9abc']), 6);
    const leader = body.view();
    const behind = body.view();
    let mirrored: Buffer | undefined | 'waiting' = 'waiting';
    body.whenComplete((b) => (mirrored = b));
    expect(await readAll(leader)).toBe('123456789abc');
    expect(body.replayable).toBe(false);
    expect(mirrored).toBeUndefined();
    await expect(readAll(behind)).rejects.toMatchObject({ code: 'PROXYLESS_ERR_BODY_NOT_REPLAYABLE' });
  });

  it('two views in step share every chunk, also past the limit (a hedge and its backup)', async () => {
    const body = new ReplayableBody(Readable.from(['aa', 'bb', 'cc']), 1);
    const [a, b] = [body.view(), body.view()];
    const out = await Promise.all([readAll(a), readAll(b)]);
    expect(out).toEqual(['aabbcc', 'aabbcc']);
  });

  it('a source that fails fails every reader; close() stops a source read part way', async () => {
    const failing = new ReplayableBody(
      (async function* () {
        yield 'a';
        throw new Error('upload broke');
      })(),
      100,
    );
    await expect(readAll(failing.view())).rejects.toThrow('upload broke');
    expect(failing.replayable).toBe(false);
    let finished = false;
    const long = new ReplayableBody(
      (async function* () {
        try {
          yield 'a';
          yield 'b';
        } finally {
          finished = true;
        }
      })(),
      100,
    );
    await long.view().next();
    long.close();
    await new Promise((r) => setImmediate(r));
    expect(finished).toBe(true);
  });

  it('tells streams from bodies that can be sent again as they are', () => {
    expect(isStreamBody(Readable.from(['x']))).toBe(true);
    expect(isStreamBody((async function* () {})())).toBe(true);
    expect(isStreamBody([Buffer.from('x')])).toBe(true);
    for (const body of [undefined, null, 'x', Buffer.from('x'), new Uint8Array(2), new Blob(['x'])]) {
      expect(isStreamBody(body)).toBe(false);
      expect(isReplayable(body)).toBe(true);
    }
  });

  it('any split of a body into chunks, any limit: a replay gives the same bytes or fails, never other bytes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 12 }), fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 12 }), async (chunks, limit, readFirst) => {
        const body = new ReplayableBody(Readable.from(chunks.length ? chunks : []), limit);
        const first = body.view();
        for (let i = 0; i < readFirst; i++) if ((await first.next()).done) break;
        const whole = chunks.join('');
        const replayable = body.replayable;
        const again = await readAll(body.view()).catch((e: unknown) => e);
        if (replayable) expect(again).toBe(whole);
        else if (typeof again !== 'string') expect(again).toMatchObject({ code: 'PROXYLESS_ERR_BODY_NOT_REPLAYABLE' });
        else expect(again).toBe(whole); // the one chunk past the limit is still held for a reader in step
      }),
      { numRuns: 200 },
    );
  });
});
