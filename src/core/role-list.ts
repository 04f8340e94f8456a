import { InvalidOptionError } from './errors/index.js';

/** What a stack holds: a step with a role name and a `wrap` function. */
export interface RoleStep {
  /** The role name, unique in its stack. */
  readonly role: string;
  /** Builds the step around the next one. */
  readonly wrap: unknown;
}

/** How a {@link RoleList} names itself and its steps in errors. */
export interface RoleListWords {
  /** Who owns the list, e.g. `service stack`, `inbound stack`. */
  readonly owner: string;
  /** What a step is called, e.g. `layer`, `step`. */
  readonly step: string;
  /** How a step is made, e.g. `layer(role, wrap)`. */
  readonly factory: string;
}

/**
 * The editing rules the outbound {@link Stack} and the `InboundStack` share: steps are
 * kept outermost first, edited by role name, roles are unique, and the last step is the
 * terminal one (nothing may go after it, and it cannot be removed, only replaced). Every
 * refused edit is an `InvalidOptionError` naming the stack, the role and what is allowed.
 */
export class RoleList<S extends RoleStep> {
  #steps: S[];
  readonly #words: RoleListWords;

  /** @param steps outermost first; the last one is terminal */
  constructor(words: RoleListWords, steps: readonly S[]) {
    this.#words = words;
    this.#steps = [...steps];
  }

  /** The steps, outermost first. */
  get steps(): readonly S[] {
    return this.#steps;
  }

  /** Role names, outermost first. */
  roles(): string[] {
    return this.#steps.map((s) => s.role);
  }

  /** Inserts `added` just outside (before) the step with `role`. */
  insertBefore(role: string, added: S): void {
    this.#checkNew(added);
    this.#steps.splice(this.#indexOf(role), 0, added);
  }

  /** Inserts `added` just inside (after) the step with `role`; not after the terminal step. */
  insertAfter(role: string, added: S): void {
    this.#checkNew(added);
    const index = this.#indexOf(role);
    if (index === this.#steps.length - 1) {
      this.#refuse(`insertAfter: ${JSON.stringify(role)} is the terminal ${this.#words.step} (expected: a role before it; use insertBefore("${role}", ...))`);
    }
    this.#steps.splice(index + 1, 0, added);
  }

  /** Replaces the step with `role` by `replacement` (which may have another role). */
  replace(role: string, replacement: S): void {
    const index = this.#indexOf(role);
    if (!isStep(replacement) || replacement.role !== role) this.#checkNew(replacement);
    this.#steps[index] = replacement;
  }

  /** Removes the step with `role`; the terminal step cannot be removed. */
  remove(role: string): void {
    const index = this.#indexOf(role);
    if (index === this.#steps.length - 1) {
      this.#refuse(`remove: ${JSON.stringify(role)} is the terminal ${this.#words.step} (expected: a non-terminal role; use replace to swap it)`);
    }
    this.#steps.splice(index, 1);
  }

  #indexOf(role: string): number {
    const index = this.#steps.findIndex((s) => s.role === role);
    if (index < 0) this.#refuse(`role: ${JSON.stringify(role)} (expected: one of ${this.roles().map((r) => JSON.stringify(r)).join(', ')})`);
    return index;
  }

  #checkNew(added: S): void {
    if (!isStep(added)) this.#refuse(`layer: ${String(added)} (expected: a ${this.#words.step} made with ${this.#words.factory})`);
    if (this.#steps.some((s) => s.role === added.role)) {
      this.#refuse(`role: ${JSON.stringify(added.role)} is already in the stack (expected: a new role name, or use replace)`);
    }
  }

  #refuse(problem: string): never {
    throw new InvalidOptionError(this.#words.owner, [problem]);
  }
}

function isStep(value: unknown): value is RoleStep {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as RoleStep).wrap === 'function' && typeof (value as RoleStep).role === 'string';
}
