import { subscribe, unsubscribe, channel as nodeChannel } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES, type CallMessage } from 'proxyless';
import { channels } from 'proxyless/telemetry';

describe('diagnostics channels', () => {
  it('every channel is named proxyless:*, once, and is the channel Node gives for that name', () => {
    const names = Object.values(CHANNEL_NAMES);
    expect(new Set(names).size).toBe(names.length);
    for (const [key, name] of Object.entries(CHANNEL_NAMES)) {
      expect(name).toMatch(/^proxyless:[a-z]+(:[a-z]+)+$/);
      const ours = channels[key as keyof typeof channels];
      expect(ours.name).toBe(name);
      // An agent that asks Node for the channel by name gets the same object.
      expect(nodeChannel(name)).toBe(ours);
    }
    expect(Object.keys(channels).sort()).toEqual(Object.keys(CHANNEL_NAMES).sort());
  });

  it('has no subscribers by default, so the publishing pattern builds no message', () => {
    for (const ch of Object.values(channels)) expect(ch.hasSubscribers).toBe(false);
    let built = 0;
    const build = (): CallMessage => {
      built++;
      return { direction: 'outbound', method: 'GET', origin: 'http://reviews', path: '/', service: 'reviews.default.svc.cluster.local', startTime: 0 };
    };
    if (channels.callStart.hasSubscribers) channels.callStart.publish(build());
    expect(built).toBe(0);
  });

  it('a subscriber by name receives the start message, then the same object completed at the end', () => {
    const seen: Array<[string, CallMessage]> = [];
    const onStart = (m: unknown) => seen.push(['start', { ...(m as CallMessage) }]);
    const onEnd = (m: unknown) => seen.push(['end', m as CallMessage]);
    subscribe(CHANNEL_NAMES.callStart, onStart);
    subscribe(CHANNEL_NAMES.callEnd, onEnd);
    try {
      expect(channels.callStart.hasSubscribers).toBe(true);
      const message: CallMessage = { direction: 'outbound', method: 'GET', origin: 'http://reviews', path: '/a', service: 'reviews.default.svc.cluster.local', startTime: 1 };
      if (channels.callStart.hasSubscribers) channels.callStart.publish(message);
      Object.assign(message, { statusCode: 200, responseFlags: '-', attempts: 1, hedged: false, durationMs: 3 });
      if (channels.callEnd.hasSubscribers) channels.callEnd.publish(message);
      expect(seen.map(([k]) => k)).toEqual(['start', 'end']);
      expect(seen[0]![1].statusCode).toBeUndefined();
      expect(seen[1]![1]).toBe(message);
      expect(seen[1]![1].statusCode).toBe(200);
    } finally {
      unsubscribe(CHANNEL_NAMES.callStart, onStart);
      unsubscribe(CHANNEL_NAMES.callEnd, onEnd);
    }
    expect(channels.callStart.hasSubscribers).toBe(false);
  });
});
