import { describe, expect, it } from 'vitest';
import { callSpanName, clientSpanName, redactUrl, CALL_SPAN_ATTRIBUTES, CLIENT_SPAN_ATTRIBUTES } from 'proxyless/telemetry';

describe('span names', () => {
  it('follow the HTTP conventions: the method, or HTTP for an unknown one', () => {
    expect(clientSpanName('GET')).toBe('GET');
    expect(clientSpanName('get')).toBe('HTTP');
    expect(clientSpanName('PURGE')).toBe('HTTP');
    expect(callSpanName('POST')).toBe('mesh POST');
    expect(callSpanName('POST')).toBe(callSpanName('POST'));
    expect(callSpanName('BREW')).toBe('mesh HTTP');
  });

  it('attribute keys are unique', () => {
    const keys = [...Object.values(CLIENT_SPAN_ATTRIBUTES), ...Object.values(CALL_SPAN_ATTRIBUTES)];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('redactUrl', () => {
  it.each([
    ['http://reviews/api?x=1', 'http://reviews/api?x=1'],
    ['http://user:secret@reviews:9080/api', 'http://REDACTED:REDACTED@reviews:9080/api'],
    ['https://token@api.example.com', 'https://REDACTED:REDACTED@api.example.com'],
    ['http://reviews/a@b', 'http://reviews/a@b'],
    ['http://reviews/?next=http://x@y', 'http://reviews/?next=http://x@y'],
    ['https://s3.example.com/o?AWSAccessKeyId=AKIA&Signature=abc%2F&x=1', 'https://s3.example.com/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&x=1'],
    ['https://g.example.com/o?X-Goog-Signature=zz#frag', 'https://g.example.com/o?X-Goog-Signature=REDACTED#frag'],
    ['https://a.example.com/?sig=1&signature=2', 'https://a.example.com/?sig=REDACTED&signature=2'],
  ])('%s → %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it('returns the same string when there is nothing to redact', () => {
    const url = 'http://reviews/api/reviews/1';
    expect(Object.is(redactUrl(url), url)).toBe(true);
  });
});
