import { formatValue } from '../../core/validate.js';
import type { PathPart } from '../config-path.js';

/** One finding of a rule, before it is attached to its resource. */
export interface Finding {
  readonly path: readonly PathPart[];
  readonly message: string;
}

/**
 * What the rules of one resource found: errors (the resource is refused) and warnings.
 * Messages say the value and what is expected, `"*" (expected: ...)`, or what happens.
 */
export class Findings {
  readonly errors: Finding[] = [];
  readonly warnings: Finding[] = [];

  /** An error at `path`: `value (expected: expected)`. */
  error(path: readonly PathPart[], value: unknown, expected: string): void {
    this.errors.push({ path, message: `${formatValue(value)} (expected: ${expected})` });
  }

  /** An error at `path` in free words. */
  errorText(path: readonly PathPart[], message: string): void {
    this.errors.push({ path, message });
  }

  /** A warning at `path` in free words. */
  warn(path: readonly PathPart[], message: string): void {
    this.warnings.push({ path, message });
  }
}

/** The context every rule gets: the resource's namespace (its own, or the mesh's). */
export interface RuleContext {
  readonly namespace: string;
}
