/**
 * A compiled list of policy values (strings, CIDR blocks, identities) that one request
 * attribute is matched against, remembering its last answer: a request asks the same set
 * (shared by every rule that lists the same values) about the same value many times.
 * An absent attribute (undefined) matches no value, so the `not` form of a list matches it.
 */
export abstract class RememberingSet {
  /** The values as written, for explanations. */
  readonly values: readonly string[];
  #lastValue: string | undefined | null = null;
  #lastResult = false;

  /** @param values the values as written */
  constructor(values: readonly string[]) {
    this.values = values;
  }

  /** Whether `value` matches one of the values; undefined matches none. */
  matches(value: string | undefined): boolean {
    if (value === this.#lastValue) return this.#lastResult;
    const result = value !== undefined && this.compute(value);
    this.#lastValue = value;
    this.#lastResult = result;
    return result;
  }

  /** Whether `value` matches one of the values (the answer {@link RememberingSet.matches} remembers). */
  protected abstract compute(value: string): boolean;
}
