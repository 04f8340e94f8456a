import { describe, expect, it } from 'vitest';
import { layer, Stack, type Dispatch } from '../../../src/core/layer.js';

const trace: string[] = [];
const step = (role: string) =>
  layer<string>(role, (next, target) => (opts, handler) => {
    trace.push(`${role}:${target}`);
    return next(opts, handler);
  });
const handler = { onResponseError() {} };
const terminal = layer<string>('end', (_next, target) => () => {
  trace.push(`end:${target}`);
  return true;
});

describe('Stack', () => {
  it('runs layers outermost first, ending at the terminal', () => {
    trace.length = 0;
    const dispatch: Dispatch = new Stack('test', [step('a'), step('b'), terminal]).build('t');
    dispatch({ path: '/', method: 'GET' }, handler);
    expect(trace).toEqual(['a:t', 'b:t', 'end:t']);
  });

  it('insertBefore / insertAfter / replace / remove edit by role', () => {
    const stack = new Stack('test', [step('a'), terminal]);
    stack.insertBefore('a', step('first')).insertAfter('a', step('b')).replace('first', step('zero')).remove('b');
    expect(stack.roles()).toEqual(['zero', 'a', 'end']);
    trace.length = 0;
    stack.build('x')({ path: '/', method: 'GET' }, handler);
    expect(trace).toEqual(['zero:x', 'a:x', 'end:x']);
  });

  it('a terminal that calls next fails loudly', () => {
    const bad = new Stack('test', [layer<string>('end', (next) => next)]).build('x');
    expect(() => bad({ path: '/', method: 'GET' }, {})).toThrow(/terminal layer of a stack called next/);
  });
});
