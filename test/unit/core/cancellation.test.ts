import { describe, expect, it } from 'vitest';
import { Cancellation, type CancelListener } from '../../../src/core/cancellation.js';

const listener = (log: string[], name: string): CancelListener => ({ onCancel: (reason) => void log.push(`${name}:${reason.message}`) });

class Owner extends Cancellation {
  constructor(readonly log: string[]) {
    super();
  }
  protected override whenCancelled(reason: Error): void {
    this.log.push(`owner:${reason.message}`);
  }
}

describe('Cancellation', () => {
  it('cancels once: the owner answers first, then each listener; later listeners are told at once', () => {
    const log: string[] = [];
    const c = new Owner(log);
    c.listen(listener(log, 'wait'));
    const removed = listener(log, 'removed');
    c.listen(removed);
    c.unlisten(removed);
    expect(c.cancel(new Error('gone'))).toBe(true);
    expect(c.cancel(new Error('again'))).toBe(false);
    expect(c.listen(listener(log, 'late'))).toBe(false);
    expect(log).toEqual(['owner:gone', 'wait:gone', 'late:gone']);
    expect(c.cancelReason?.message).toBe('gone');
  });

  it('a child follows its parent until it unfollows', () => {
    const log: string[] = [];
    const parent = new Cancellation();
    const child = new Owner(log);
    child.follow(parent);
    const other = new Owner([]);
    other.follow(parent);
    other.unfollow();
    parent.cancel(new Error('closing'));
    expect(log).toEqual(['owner:closing']);
    expect(other.cancelled).toBe(false);
    const late = new Owner(log);
    late.follow(parent); // already cancelled: at once
    expect(late.cancelled).toBe(true);
  });
});
