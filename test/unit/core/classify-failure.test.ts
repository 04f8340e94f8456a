import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyFailure, isEndpointFailure, neverSent, type FailureKind } from '../../../src/core/classify-failure.js';
import { ServiceBreaker } from '../../../src/policy/breaker/index.js';
import { breakerSettings } from '../../../src/config/settings/index.js';
import { isLocalOriginFailure } from '../../../src/policy/outlier/internal-outlier-errors.js';
import { retriableFailure } from '../../../src/policy/retry/index.js';
import { retryPolicy } from '../../../src/config/settings/index.js';

const error = (code: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(code), { code, ...extra });

const breaker = new ServiceBreaker('svc', breakerSettings({ failOn: ['connect-failure', 'reset', 'timeout'] }, 'test'));
afterAll(() => breaker.close());

/** A retry policy that retries every endpoint failure (Istio's default has no `reset`). */
const retries = retryPolicy({ attempts: 2, retryOn: 'connect-failure,refused-stream,reset' });

/** What each of the three consumers makes of one error. */
function verdicts(e: Error, started?: boolean) {
  return {
    retriedGet: retriableFailure(retries, classifyFailure(e, started), 'GET'),
    retriedPost: retriableFailure(retries, classifyFailure(e, started), 'POST'),
    outlier: isLocalOriginFailure(e),
    breaker: breaker.outcomeOf(e, false, started),
  };
}

describe('the one failure classifier', () => {
  it.each<[string, Error, boolean | undefined, FailureKind]>([
    ['ECONNREFUSED', error('ECONNREFUSED', { syscall: 'connect' }), false, 'connect-failure'],
    ['ETIMEDOUT while connecting', error('ETIMEDOUT', { syscall: 'connect' }), false, 'connect-failure'],
    ['ETIMEDOUT on an open connection', error('ETIMEDOUT', { syscall: 'read' }), true, 'reset'],
    ['ECONNABORTED after the request was written', error('ECONNABORTED'), true, 'reset'],
    ['ECONNRESET before the request was written', error('ECONNRESET', { syscall: 'read' }), false, 'reset-before-request'],
    ['UND_ERR_CLOSED (the pool was closed here)', error('UND_ERR_CLOSED'), undefined, 'cancelled'],
    ['HTTP/2 REFUSED_STREAM', error('ERR_HTTP2_STREAM_ERROR', { http2ErrorCode: 7 }), true, 'refused-stream'],
    ['HTTP/2 INTERNAL_ERROR', error('ERR_HTTP2_STREAM_ERROR', { http2ErrorCode: 2 }), true, 'reset'],
    ['per-try timeout', error('PROXYLESS_ERR_PER_TRY_TIMEOUT'), true, 'timeout'],
    ['deadline passed', error('PROXYLESS_ERR_DEADLINE_EXCEEDED'), undefined, 'cancelled'],
    ['no healthy upstream', error('PROXYLESS_ERR_NO_HEALTHY_UPSTREAM'), false, 'refused'],
    ['the caller aborted', new DOMException('aborted', 'AbortError'), true, 'cancelled'],
    ['a TLS failure in the handshake', error('ERR_SSL_WRONG_VERSION_NUMBER'), false, 'reset-before-request'],
    ['a bug in a handler', new TypeError('x is not a function'), true, 'other'],
    ['a cause chain', Object.assign(new Error('fetch failed'), { cause: error('ECONNREFUSED') }), undefined, 'connect-failure'],
  ])('%s', (_name, e, started, kind) => {
    expect(classifyFailure(e, started)).toBe(kind);
  });

  it('retries, outlier detection and the breaker agree on ETIMEDOUT, ECONNABORTED and UND_ERR_CLOSED', () => {
    expect(verdicts(error('ETIMEDOUT', { syscall: 'connect' }), false)).toEqual({ retriedGet: true, retriedPost: true, outlier: true, breaker: 'failure' });
    expect(verdicts(error('ETIMEDOUT', { syscall: 'read' }), true)).toEqual({ retriedGet: true, retriedPost: false, outlier: true, breaker: 'failure' });
    expect(verdicts(error('ECONNABORTED'), true)).toEqual({ retriedGet: true, retriedPost: false, outlier: true, breaker: 'failure' });
    expect(verdicts(error('UND_ERR_CLOSED'))).toEqual({ retriedGet: false, retriedPost: false, outlier: false, breaker: 'neither' });
  });

  const codes = [
    'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
    'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED', 'UND_ERR_ABORTED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT', 'UND_ERR_INFO', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ERR_HTTP2_STREAM_ERROR', 'ERR_HTTP2_SESSION_ERROR',
    'ERR_HTTP2_STREAM_CANCEL', 'HPE_INVALID_CONSTANT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_DECRYPTION_FAILED', 'CERT_HAS_EXPIRED',
    'PROXYLESS_ERR_TIMEOUT', 'PROXYLESS_ERR_PER_TRY_TIMEOUT', 'PROXYLESS_ERR_OVERLOADED', 'PROXYLESS_ERR_CIRCUIT_OPEN',
    'PROXYLESS_ERR_CLOSE_TIMEOUT', 'PROXYLESS_ERR_MESH_CLOSED', 'PROXYLESS_ERR_DEADLINE_EXCEEDED', 'ABORT_ERR',
  ];
  const anError = fc
    .record({
      code: fc.oneof(fc.constantFrom(...codes), fc.string({ maxLength: 12 })),
      syscall: fc.option(fc.constantFrom('connect', 'read', 'write', 'getaddrinfo'), { nil: undefined }),
      http2ErrorCode: fc.option(fc.integer({ min: 0, max: 13 }), { nil: undefined }),
      wrapped: fc.integer({ min: 0, max: 3 }),
    })
    .map(({ code, syscall, http2ErrorCode, wrapped }) => {
      let e: Error = error(code, { ...(syscall ? { syscall } : {}), ...(http2ErrorCode !== undefined ? { http2ErrorCode } : {}) });
      for (let i = 0; i < wrapped; i++) e = new Error('wrapped', { cause: e });
      return e;
    });

  it('for any error, the three consumers agree: outlier detection, the breaker and a GET retry all follow the kind (property)', () => {
    fc.assert(
      fc.property(anError, fc.option(fc.boolean(), { nil: undefined }), (e, started) => {
        const kind = classifyFailure(e, started);
        const v = verdicts(e, started);
        // Outlier detection reads no `started` (a reset is the endpoint's either way).
        expect(v.outlier).toBe(isEndpointFailure(classifyFailure(e)));
        expect(v.breaker === 'failure').toBe(isEndpointFailure(kind));
        expect(v.retriedGet).toBe(isEndpointFailure(kind));
        // A POST is sent again only when the server provably never saw it.
        expect(v.retriedPost).toBe(neverSent(kind) && kind !== 'refused');
      }),
    );
  });

  it('never throws, whatever it is given (property)', () => {
    fc.assert(fc.property(fc.anything(), fc.option(fc.boolean(), { nil: undefined }), (value, started) => void classifyFailure(value, started)));
  });
});
