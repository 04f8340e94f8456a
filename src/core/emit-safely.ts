import type { EventEmitter } from 'node:events';

/**
 * Emits `event` on `emitter` from code that must not be unwound by a listener: a
 * source's timer, socket or file watch, or the mesh's own request path. A listener that
 * throws fails on its own tick instead (as any throwing listener surfaces), so the caller
 * carries on (keeps its last good set, finishes its reload).
 */
export function emitSafely(emitter: EventEmitter, event: string, ...args: unknown[]): void {
  try {
    emitter.emit(event, ...args);
  } catch (thrown) {
    process.nextTick(() => {
      throw thrown;
    });
  }
}
