import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWatcher, readSnapshotSync, snapshotKey, type FileSnapshot, type SnapshotVerdict } from '../../../src/core/file-watcher.js';

/**
 * Writes atomically (temporary file + rename): an in-place write truncates first, and on a
 * busy machine the empty file can stay long enough for two reads to agree on it (which is
 * what the consumer's suspect verdict is for, tested on its own below).
 */
async function put(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text);
  await rename(`${path}.tmp`, path);
}

/** Polls until `check` holds (real file events take a few ms), at most 5 s. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Delivery {
  readonly what: string;
  readonly confirmed: boolean;
}

const describeSnapshot = (s: FileSnapshot): string =>
  s.kind === 'file' ? `file:${s.text}` : s.kind === 'directory' ? `dir:${[...s.files.keys()].join(',')}` : s.kind;

describe('FileWatcher on real files', () => {
  let dir: string;
  let watcher: FileWatcher | undefined;
  let deliveries: Delivery[];
  let errors: Error[];
  const follow = (path: string, verdict: (s: FileSnapshot, confirmed: boolean) => SnapshotVerdict = () => 'done', known?: string, settle = 150) => {
    watcher = new FileWatcher(
      { path, debounce: 10, settle, recheckInterval: 30, include: (n) => n.endsWith('.yaml'), known },
      {
        change: (snapshot, confirmed) => {
          deliveries.push({ what: describeSnapshot(snapshot), confirmed });
          return verdict(snapshot, confirmed);
        },
        error: (error) => errors.push(error),
      },
    );
    watcher.start();
  };
  const last = () => deliveries.at(-1)?.what;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxyless-watch-'));
    deliveries = [];
    errors = [];
  });
  afterEach(async () => {
    watcher?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers each new version once; a rewrite with the same content delivers nothing', async () => {
    const path = join(dir, 'a.yaml');
    await put(path, 'one\n');
    follow(path);
    await until('the first version', () => last() === 'file:one\n');
    await put(path, 'two\n');
    await until('the edit', () => last() === 'file:two\n');
    await put(path, 'two\n');
    await put(path, 'three\n');
    await until('the next edit', () => last() === 'file:three\n');
    expect(deliveries.map((d) => d.what)).toEqual(['file:one\n', 'file:two\n', 'file:three\n']);
  });

  it('the version the consumer already has is not delivered at start', async () => {
    const path = join(dir, 'a.yaml');
    await put(path, 'one\n');
    follow(path, undefined, snapshotKey({ kind: 'file', text: 'one\n' }));
    await put(path, 'two\n');
    await until('the edit', () => last() === 'file:two\n');
    expect(deliveries).toEqual([{ what: 'file:two\n', confirmed: false }]);
  });

  it('a suspect version is delivered again, confirmed, once it stayed unchanged for settle ms; a newer one replaces it', async () => {
    const path = join(dir, 'a.yaml');
    await put(path, 'complete\n');
    // Versions without a final line break are suspect.
    // (A settle time long enough that a busy machine cannot let it pass between two steps of the test.)
    follow(path, (s, confirmed) => (!confirmed && s.kind === 'file' && !s.text.endsWith('\n') ? 'suspect' : 'done'), undefined, 1000);
    await until('the first version', () => last() === 'file:complete\n');
    await put(path, 'half-writ');
    await until('the suspect version', () => last() === 'file:half-writ');
    expect(deliveries.at(-1)!.confirmed).toBe(false);
    // The writer finishes within the settle time: the half version is never confirmed.
    await put(path, 'half-written\n');
    await until('the finished version', () => last() === 'file:half-written\n');
    await put(path, 'cut');
    await until('a suspect version left alone', () => last() === 'file:cut' && deliveries.at(-1)!.confirmed);
    expect(deliveries).toEqual([
      { what: 'file:complete\n', confirmed: false },
      { what: 'file:half-writ', confirmed: false },
      { what: 'file:half-written\n', confirmed: false },
      { what: 'file:cut', confirmed: false },
      { what: 'file:cut', confirmed: true },
    ]);
  });

  it('follows a file replaced by rename, deleted, and its directory removed and created again', async () => {
    const sub = join(dir, 'sub');
    await mkdir(sub);
    const path = join(sub, 'a.yaml');
    await put(path, 'one\n');
    follow(path);
    await until('the first version', () => last() === 'file:one\n');
    await writeFile(join(sub, '.a.tmp'), 'renamed\n');
    await rename(join(sub, '.a.tmp'), path);
    await until('the renamed version', () => last() === 'file:renamed\n');
    await rm(sub, { recursive: true });
    await until('missing', () => last() === 'missing');
    await mkdir(sub);
    await put(path, 'recreated\n');
    await until('the recreated version', () => last() === 'file:recreated\n');
    await put(path, 'edited later\n');
    await until('a later edit', () => last() === 'file:edited later\n');
    expect(errors).toEqual([]);
  });

  it('a directory removed and created again at once (same inode number) is watched afresh: later edits arrive', async () => {
    const sub = join(dir, 'again');
    await mkdir(sub);
    const path = join(sub, 'a.yaml');
    await put(path, 'one\n');
    follow(path);
    await until('the first version', () => last() === 'file:one\n');
    // No pause between removing and creating: the old watch may never report anything.
    await rm(sub, { recursive: true });
    await mkdir(sub);
    await put(path, 'two\n');
    await until('the version in the new directory', () => last() === 'file:two\n');
    for (const text of ['three\n', 'four\n']) {
      await put(path, text);
      await until(`the edit to ${text.trim()}`, () => last() === `file:${text}`);
    }
  });

  it('a directory: its matching files in name order; replaced by an empty one, it reads empty', async () => {
    const conf = join(dir, 'conf');
    await mkdir(conf);
    await put(join(conf, 'b.yaml'), 'b\n');
    await put(join(conf, 'a.yaml'), 'a\n');
    await writeFile(join(conf, 'notes.txt'), 'ignored\n');
    follow(conf);
    await until('the directory', () => last() === 'dir:a.yaml,b.yaml');
    await rm(conf, { recursive: true });
    await mkdir(conf);
    await until('the empty directory', () => last() === 'dir:');
  });

  it('a file or directory beyond maxBytes is unreadable, not read into memory', async () => {
    const path = join(dir, 'big.yaml');
    await put(path, 'x'.repeat(100));
    expect(readSnapshotSync(path, undefined, 99)).toMatchObject({ kind: 'unreadable', error: { message: `${path} holds 100 bytes (expected: at most 99; is it the right file?)` } });
    expect(readSnapshotSync(path, undefined, 100)).toMatchObject({ kind: 'file' });
    await put(join(dir, 'more.yaml'), 'y'.repeat(50));
    expect(readSnapshotSync(dir, (n) => n.endsWith('.yaml'), 120)).toMatchObject({ kind: 'unreadable', error: { message: expect.stringMatching(/holds 150 bytes \(expected: at most 120;/) } });
    const seen: FileSnapshot[] = [];
    watcher = new FileWatcher({ path, debounce: 10, settle: 150, recheckInterval: 30, maxBytes: 99 }, { change: (s) => void seen.push(s), error: () => {} });
    watcher.start();
    await until('the unreadable version', () => seen.length === 1);
    expect(seen[0]).toMatchObject({ kind: 'unreadable' });
  });

  it('close() stops every delivery', async () => {
    const path = join(dir, 'a.yaml');
    await put(path, 'one\n');
    follow(path);
    await until('the first version', () => last() === 'file:one\n');
    watcher!.close();
    watcher!.close();
    await put(path, 'two\n');
    // Wait for a second watcher on the same file to see the edit: the closed one has had its chance.
    const seen: string[] = [];
    const witness = new FileWatcher({ path, debounce: 10, settle: 150, recheckInterval: 30, known: snapshotKey({ kind: 'file', text: 'one\n' }) }, {
      change: (s) => void seen.push(describeSnapshot(s)),
      error: () => {},
    });
    witness.start();
    await put(path, 'three\n');
    await until('the witness', () => seen.includes('file:three\n'));
    witness.close();
    expect(deliveries.map((d) => d.what)).toEqual(['file:one\n']);
  });
});
