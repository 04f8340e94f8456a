/** An entry of an {@link InFlightSet}: it keeps its own slot, so removal needs no lookup. */
export interface InFlightEntry {
  /** Its index in the set's array, or -1 when not in a set. */
  inFlightSlot: number;
}

/**
 * The requests in flight: an array where each entry knows its index, so adding and
 * removing are O(1) without hashing (a `Set` of fresh objects costs an identity hash and
 * table upkeep on every request: measured at 70-270 ns an add and delete here, against
 * a few ns for this). Removal moves the last entry into the freed slot.
 *
 * @internal
 */
export class InFlightSet<T extends InFlightEntry> {
  readonly #entries: T[] = [];

  /** How many are in. */
  get size(): number {
    return this.#entries.length;
  }

  /** Adds `entry` (not already in a set). */
  add(entry: T): void {
    entry.inFlightSlot = this.#entries.length;
    this.#entries.push(entry);
  }

  /** Removes `entry`; a no-op when it is not in this set. */
  delete(entry: T): void {
    const slot = entry.inFlightSlot;
    const entries = this.#entries;
    if (slot < 0 || entries[slot] !== entry) return;
    const last = entries.pop()!;
    if (last !== entry) {
      entries[slot] = last;
      last.inFlightSlot = slot;
    }
    entry.inFlightSlot = -1;
  }

  /** A copy of the entries (safe to iterate while they leave). */
  snapshot(): T[] {
    return [...this.#entries];
  }
}
