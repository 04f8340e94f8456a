import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../../src/core/errors/index.js';
import { layer, Stack } from '../../../src/core/layer.js';
import { InboundStack, inboundLayer } from '../../../src/inbound/inbound-stack.js';

/** The problems of the InvalidOptionError `edit` throws; fails on any other outcome. */
function problemsOf(edit: () => unknown): readonly string[] {
  try {
    edit();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
  throw new Error('the edit was accepted');
}

const outbound = () => new Stack<unknown>('service', ['a', 'b', 'end'].map((role) => layer(role, (next) => next)));
const inboundStack = () => new InboundStack(['a', 'b', 'end'].map((role) => inboundLayer(role, (next) => next)));

describe('the outbound Stack and the InboundStack edit by the same rules (core/role-list.ts)', () => {
  const stacks = [
    ['service stack', 'layer', outbound, (role: string) => layer(role, (next) => next)],
    ['inbound stack', 'step', inboundStack, (role: string) => inboundLayer(role, (next) => next)],
  ] as const;

  it.each(stacks)('%s: edits by role, outermost first', (_owner, _step, make, step) => {
    const stack = make();
    stack.insertBefore('a', step('first') as never).insertAfter('b', step('c') as never).replace('end', step('terminal') as never).remove('a');
    expect(stack.roles()).toEqual(['first', 'b', 'c', 'terminal']);
  });

  it.each(stacks)('%s: refuses an unknown role, a duplicate, a non-step, and any edit that would move or drop the terminal', (owner, word, make, step) => {
    expect(problemsOf(() => make().remove('x'))).toEqual(['role: "x" (expected: one of "a", "b", "end")']);
    expect(problemsOf(() => make().insertBefore('a', step('b') as never))).toEqual(['role: "b" is already in the stack (expected: a new role name, or use replace)']);
    expect(problemsOf(() => make().replace('a', step('b') as never))).toEqual(['role: "b" is already in the stack (expected: a new role name, or use replace)']);
    expect(problemsOf(() => make().replace('a', undefined as never))[0]).toMatch(new RegExp(`^layer: undefined \\(expected: a ${word} made with `));
    expect(problemsOf(() => make().insertAfter('end', step('z') as never))).toEqual([
      `insertAfter: "end" is the terminal ${word} (expected: a role before it; use insertBefore("end", ...))`,
    ]);
    expect(problemsOf(() => make().remove('end'))).toEqual([`remove: "end" is the terminal ${word} (expected: a non-terminal role; use replace to swap it)`]);
    expect(() => make().remove('end')).toThrow(new RegExp(`^${owner}: invalid option`));
  });
});
