import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import {
  CircuitOpenError,
  DeadlineExceededError,
  InvalidRequestError,
  MeshClosedError,
  NoEndpointsError,
  OverloadError,
  PerTryTimeoutError,
  RouteTimeoutError,
  UnknownServiceError,
} from 'proxyless';
import {
  RESPONSE_FLAGS,
  ResponseFlag,
  formatResponseFlags,
  parseResponseFlags,
  responseFlagOfError,
  responseFlagsOf,
  sidecarStatusOf,
} from 'proxyless/telemetry';

const flagsOf = (error: unknown) => formatResponseFlags(responseFlagOfError(error));

describe('formatResponseFlags', () => {
  it("writes Envoy's short names in Envoy's order, '-' for none", () => {
    expect(formatResponseFlags(0)).toBe('-');
    expect(formatResponseFlags(ResponseFlag.URX | ResponseFlag.UF)).toBe('UF,URX');
    expect(formatResponseFlags(ResponseFlag.DC | ResponseFlag.UH | ResponseFlag.FI)).toBe('UH,FI,DC');
  });

  it('returns the same string object for a mask (nothing allocated after the first time)', () => {
    const mask = ResponseFlag.UT | ResponseFlag.URX;
    expect(formatResponseFlags(mask)).toBe(formatResponseFlags(mask));
    expect(Object.is(formatResponseFlags(mask), formatResponseFlags(mask | 2 ** 30))).toBe(true);
  });

  it('parse and format are inverse on every mask', () => {
    const all = 2 ** RESPONSE_FLAGS.length - 1;
    fc.assert(fc.property(fc.integer({ min: 0, max: all }), (mask) => {
      expect(parseResponseFlags(formatResponseFlags(mask))).toBe(mask);
    }));
    expect(parseResponseFlags('UF, URX,bogus,constructor')).toBe(ResponseFlag.UF | ResponseFlag.URX);
  });

  it('every flag has a distinct bit, a short and long name, and a meaning', () => {
    expect(new Set(RESPONSE_FLAGS.map((f) => f.bit)).size).toBe(RESPONSE_FLAGS.length);
    for (const f of RESPONSE_FLAGS) {
      expect(f.flag).toMatch(/^[A-Z]{2,4}$/);
      expect(f.long).toMatch(/^[A-Z][A-Za-z]+$/);
      expect(f.meaning.length).toBeGreaterThan(10);
    }
  });
});

describe("responseFlagOfError: the mesh's errors", () => {
  it.each<[string, unknown, string]>([
    ['NoEndpointsError', new NoEndpointsError('reviews', ['static'], 5000), 'UH'],
    ['OverloadError', new OverloadError('reviews', 'http2MaxRequests', 10, 10), 'UO'],
    ['CircuitOpenError', Object.create(CircuitOpenError.prototype, { code: { value: 'PROXYLESS_ERR_CIRCUIT_OPEN' } }), 'UO'],
    ['RouteTimeoutError', new RouteTimeoutError('reviews', 100, 'VirtualService/reviews'), 'UT'],
    ['DeadlineExceededError', new DeadlineExceededError('reviews', 'before', 5), 'UT'],
    ['UnknownServiceError', new UnknownServiceError('x.example.com', ['static']), 'NR'],
    ['MeshClosedError', new MeshClosedError(), 'LR'],
    ['InvalidRequestError', new InvalidRequestError('bad URL'), 'DPE'],
    ['a code added on another branch (no healthy upstream)', Object.assign(new Error('x'), { code: 'PROXYLESS_ERR_NO_HEALTHY_UPSTREAM' }), 'UH'],
    ['a plain Error', new Error('x'), '-'],
    ['a string', 'boom', '-'],
    ['null', null, '-'],
  ])('%s → %s', (_, error, flags) => {
    expect(flagsOf(error)).toBe(flags);
  });

  it('reads the cause chain, outermost flag first, 4 deep at most', () => {
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(flagsOf(new Error('wrapper', { cause: abort }))).toBe('DC');
    const perTry = Object.assign(new Error('per try'), { code: 'PROXYLESS_ERR_PER_TRY_TIMEOUT', cause: abort });
    expect(flagsOf(perTry)).toBe('UT');
    let deep: Error = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    for (let i = 0; i < 4; i++) deep = new Error(`wrap ${i}`, { cause: deep });
    expect(flagsOf(deep)).toBe('-');
    // A cycle ends at the depth bound.
    const a = new Error('a') as Error & { cause?: unknown };
    a.cause = a;
    expect(flagsOf(a)).toBe('-');
  });

  it('PerTryTimeoutError is an upstream timeout', () => {
    expect(PerTryTimeoutError).toBeDefined();
    expect(flagsOf(Object.create(PerTryTimeoutError.prototype, { code: { value: 'PROXYLESS_ERR_PER_TRY_TIMEOUT' } }))).toBe('UT');
  });
});

describe('responseFlagOfError: real connection failures', () => {
  let server: Server;
  let port: number;
  const agent = new Agent({ headersTimeout: 200, connectTimeout: 2000 });
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/destroy') req.socket.destroy();
      else if (req.url === '/garbage') req.socket.end('NOT HTTP\r\n\r\n');
      // '/hang' never answers: undici's headers timeout fires.
      else if (req.url !== '/hang') res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await agent.close();
  });

  const failure = async (url: string, signal?: AbortSignal): Promise<unknown> => {
    try {
      const res = await request(url, { dispatcher: agent, signal });
      await res.body.dump();
    } catch (error) {
      return error;
    }
    throw new Error(`${url} did not fail`);
  };

  it('connection refused → UF', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(flagsOf(await failure(`http://127.0.0.1:${closedPort}/`))).toBe('UF');
  });

  it('name not resolved → UF', async () => {
    expect(flagsOf(await failure('http://no-such-host.invalid/'))).toBe('UF');
  });

  it('connection closed before the response → UC', async () => {
    expect(flagsOf(await failure(`http://127.0.0.1:${port}/destroy`))).toBe('UC');
  });

  it('a response that is not HTTP → UPE', async () => {
    expect(flagsOf(await failure(`http://127.0.0.1:${port}/garbage`))).toBe('UPE');
  });

  it("undici's headers timeout → UT", async () => {
    expect(flagsOf(await failure(`http://127.0.0.1:${port}/hang`))).toBe('UT');
  });

  it("the caller's abort → DC", async () => {
    const controller = new AbortController();
    const pending = failure(`http://127.0.0.1:${port}/hang`, controller.signal);
    controller.abort();
    expect(flagsOf(await pending)).toBe('DC');
    expect(flagsOf(await failure(`http://127.0.0.1:${port}/hang`, AbortSignal.abort()))).toBe('DC');
  });
});

describe('responseFlagsOf and sidecarStatusOf', () => {
  it('adds what the layers saw to the error', () => {
    const refused = Object.assign(new Error('x'), { code: 'ECONNREFUSED' });
    expect(formatResponseFlags(responseFlagsOf(refused, { retryLimitReached: true }))).toBe('UF,URX');
    expect(formatResponseFlags(responseFlagsOf(undefined, { faultDelayed: true }))).toBe('DI');
    expect(formatResponseFlags(responseFlagsOf(undefined, { faultAborted: true, faultDelayed: true }))).toBe('DI,FI');
    expect(formatResponseFlags(responseFlagsOf(undefined, { retryBudgetExhausted: true }))).toBe('UO');
    expect(formatResponseFlags(responseFlagsOf(undefined, { noRoute: true }))).toBe('NR');
    // The caller's abort is DC even when it surfaced as a timeout.
    const timeout = Object.assign(new Error('t'), { code: 'PROXYLESS_ERR_TIMEOUT' });
    expect(formatResponseFlags(responseFlagsOf(timeout, { callerAborted: true }))).toBe('DC');
  });

  it("gives the status a sidecar answers with, 0 when the caller went away", () => {
    expect(sidecarStatusOf(ResponseFlag.UF | ResponseFlag.URX)).toBe(503);
    expect(sidecarStatusOf(ResponseFlag.UT)).toBe(504);
    expect(sidecarStatusOf(ResponseFlag.NR)).toBe(404);
    // Envoy answers a response that is not HTTP with 502 Bad Gateway, other upstream failures with 503.
    expect(sidecarStatusOf(ResponseFlag.UPE)).toBe(502);
    expect(sidecarStatusOf(ResponseFlag.DC)).toBe(0);
    expect(sidecarStatusOf(ResponseFlag.FI)).toBe(0);
    expect(sidecarStatusOf(0)).toBe(0);
  });
});
