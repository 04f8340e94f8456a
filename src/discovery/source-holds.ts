import { SourceClosedError } from '../core/errors/index.js';

/** What can be held: a discovery source or a config source (anything with a name and `close()`). */
export interface HoldableSource {
  /** Used in errors. */
  readonly name: string;
  /** Releases the source's timers, sockets and watches. */
  close(): Promise<void>;
}

interface Holds {
  count: number;
  /** Set once the last release closed the source. */
  closing: Promise<void> | undefined;
}

// Keyed by the source object itself, so any source (built-in or custom) can be held
// without implementing anything, and a forgotten source is collected with its entry.
const holds = new WeakMap<object, Holds>();

/**
 * Counts one more holder of `source` (a mesh, or the program through
 * {@link holdSource}). Throws {@link SourceClosedError} when the last holder already
 * closed it: a mesh given a closed source fails at once, not on its first request.
 */
export function acquireSource(source: HoldableSource, by: string): void {
  let entry = holds.get(source);
  if (entry?.closing) throw new SourceClosedError(source.name, `be used by ${by}`);
  if (!entry) holds.set(source, (entry = { count: 0, closing: undefined }));
  entry.count++;
}

/**
 * Ends one hold of `source`; the last one closes it (once). Resolves when the source is
 * closed, or at once when others still hold it. A `close()` that throws or rejects
 * rejects the returned promise.
 */
export function releaseSource(source: HoldableSource): Promise<void> {
  const entry = holds.get(source);
  if (!entry || entry.count === 0) return entry?.closing ?? Promise.resolve();
  entry.count--;
  if (entry.count > 0) return Promise.resolve();
  entry.closing = (async () => source.close())();
  return entry.closing;
}

/** Takes back a hold without closing anything (its holder never came to life, e.g. createMesh threw). */
export function abandonHold(source: HoldableSource): void {
  const entry = holds.get(source);
  if (entry && entry.count > 0 && !entry.closing) entry.count--;
}

/**
 * Keeps a discovery or config source open until the returned `release` is called, even
 * when every mesh using it has closed.
 *
 * Who closes a source: the meshes given it hold it together, from `createMesh` until
 * their `close()`, and the last of them to close closes it. That is what a program with
 * one mesh wants (`createMesh({ discovery: [dns()] })` leaks nothing), and meshes that
 * share a source while they overlap (blue/green, per-tenant meshes) do not close it
 * under each other. A program that wants a source to outlive its meshes (a test suite
 * that creates a mesh per test over one source, a pool of per-tenant meshes that may all
 * be closed for a moment) holds it too:
 *
 * ```ts
 * const registry = staticEndpoints({ reviews: ['10.0.0.5:9080'] });
 * const release = holdSource(registry);
 * // ... create and close meshes over `registry` ...
 * await release(); // closes it when no mesh uses it any more
 * ```
 *
 * A source used after it was closed fails at once with {@link SourceClosedError}
 * (`createMesh`, and each request needing a watch), never with a discovery timeout.
 * Calling `release` again does nothing.
 *
 * @param source a discovery source or a config source
 * @returns `release`: ends this hold, closing the source if nothing else holds it
 */
export function holdSource(source: HoldableSource): () => Promise<void> {
  acquireSource(source, 'holdSource');
  let released: Promise<void> | undefined;
  return () => (released ??= releaseSource(source));
}
