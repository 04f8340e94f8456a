import type { AdminMesh } from './mesh-view.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { lifecycleOf } from '../inbound/lifecycle.js';
import { formatExplanation } from '../route/explain.js';
import { hostAllowed, presentedToken, tokenMatches } from './auth.js';
import { clusters } from './clusters.js';
import { certsDump, configDump, routesDump } from './config-dump.js';
import type { AdminCore } from './core.js';
import { DASHBOARD_HTML } from './dashboard-page.js';
import { sseEvent } from './streams.js';

/** Longest request target accepted (path and query), in bytes. */
export const MAX_URL = 4096;
/** Most query parameters accepted. */
const MAX_PARAMS = 32;
/** Log levels `POST /log_level` accepts (pino's). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** One admin endpoint: its methods, whether it changes anything, what it does. */
interface Endpoint {
  readonly method: 'GET' | 'POST';
  readonly help: string;
  readonly run: (ctx: RequestContext) => void | Promise<void>;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  readonly core: AdminCore;
  readonly mesh: AdminMesh;
}

/** Answers JSON (pretty-printed: it is read by people too). */
function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** An integer query parameter in [min, max], or an error message. */
function intParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number | string {
  const raw = query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) return `${name}: ${JSON.stringify(raw.slice(0, 40))} (expected: an integer from ${min} to ${max})`;
  return value;
}

const ENDPOINTS: Record<string, Endpoint> = {
  '/clusters': {
    method: 'GET',
    help: 'services with their endpoints, load, health, ejections and circuit state (?service=&offset=&limit=)',
    run: ({ res, query, core }) => {
      const offset = intParam(query, 'offset', 0, 10_000_000, 0);
      const limit = intParam(query, 'limit', 1, 10_000, 1000);
      if (typeof offset === 'string' || typeof limit === 'string') return json(res, 400, { error: typeof offset === 'string' ? offset : limit });
      json(res, 200, { clusters: clusters(core.view, core.sampler, { service: query.get('service') ?? undefined, offset, limit }) });
    },
  },
  '/config_dump': { method: 'GET', help: 'the config resources in force with their origin, warnings, last applied and last rejected versions (secrets redacted)', run: ({ res, core }) => json(res, 200, configDump(core.view)) },
  '/routes': { method: 'GET', help: 'compiled VirtualService routes per host, with weights and policies', run: ({ res, core }) => json(res, 200, { hosts: routesDump(core.view) }) },
  '/explain': {
    method: 'GET',
    help: 'what the mesh would do with a request (?url=&method=&header=name:value)',
    run: async ({ res, query, mesh }) => {
      const url = query.get('url');
      if (url === null || !URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) return json(res, 400, { error: `url: ${JSON.stringify((url ?? '').slice(0, 200))} (expected: an http:// or https:// URL)` });
      const headers: Record<string, string> = {};
      for (const h of query.getAll('header')) {
        const colon = h.indexOf(':');
        if (colon <= 0) return json(res, 400, { error: `header: ${JSON.stringify(h.slice(0, 200))} (expected: name:value)` });
        headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
      }
      const explanation = await mesh.explain(url, { method: query.get('method') ?? 'GET', headers });
      json(res, 200, { explanation, text: formatExplanation(explanation) });
    },
  },
  '/sources': {
    method: 'GET',
    help: 'discovery sources and their state',
    run: ({ res, mesh }) =>
      json(res, 200, {
        sources: mesh.sources().map((s) => ({ name: s.name, ready: s.ready, lastRefresh: s.lastRefresh?.toISOString() ?? null, lastError: s.lastError?.message ?? null, services: s.services, endpoints: s.endpoints })),
      }),
  },
  '/certs': {
    method: 'GET',
    help: "this workload's SPIFFE ID, chain, expiry and last rotation (when an identity is given)",
    run: ({ res, core }) => (core.options.identity ? json(res, 200, certsDump(core.options.identity, core.lastRotation)) : json(res, 404, { error: 'no identity: give the admin server one (mesh.admin({ identity }))' })),
  },
  '/stats/prometheus': {
    method: 'GET',
    help: 'metrics in the Prometheus text format (when a Prometheus reader is configured)',
    run: async ({ req, res, core }) => {
      const source = core.options.prometheus;
      if (source === undefined) return json(res, 404, { error: 'no Prometheus reader configured: give the admin server one (mesh.admin({ prometheus }))' });
      if (typeof source !== 'function') return source.getMetricsRequestHandler(req, res);
      const text = await source();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(text);
    },
  },
  '/ready': {
    method: 'GET',
    help: '200 when discovery answered and the workload is not draining, else 503',
    run: ({ res, mesh }) => {
      const lifecycle = lifecycleOf(mesh);
      const state = lifecycle.state;
      json(res, state === 'ready' ? 200 : 503, { state, reason: lifecycle.notReadyReason() ?? null });
    },
  },
  '/healthz': { method: 'GET', help: '200 while the mesh is open', run: ({ res, core }) => json(res, core.view.closed() ? 503 : 200, { status: core.view.closed() ? 'closed' : 'ok' }) },
  '/events': {
    method: 'GET',
    help: 'recent events: config applied or rejected, ejections, breakers, discovery errors (?since=)',
    run: ({ res, query, core }) => {
      const since = intParam(query, 'since', 0, Number.MAX_SAFE_INTEGER, 0);
      if (typeof since === 'string') return json(res, 400, { error: since });
      json(res, 200, { count: core.events.count, events: core.events.list(since) });
    },
  },
  '/dashboard': {
    method: 'GET',
    help: 'the live dashboard (HTML)',
    run: ({ res }) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:", 'x-frame-options': 'DENY' });
      res.end(DASHBOARD_HTML);
    },
  },
  '/dashboard/frame': { method: 'GET', help: "the dashboard's data, one snapshot (JSON)", run: ({ res, core }) => json(res, 200, core.frame()) },
  '/dashboard/stream': {
    method: 'GET',
    help: "the dashboard's data, one frame a tick (Server-Sent Events)",
    run: ({ req, res, core }) => void core.hub.open(req, res, sseEvent('frame', core.frame())),
  },
  '/drain': {
    method: 'POST',
    help: 'starts a graceful drain (?delay=ms&grace=ms); needs the token',
    run: ({ res, query, mesh }) => {
      const delay = intParam(query, 'delay', 0, 3_600_000, -1);
      const grace = intParam(query, 'grace', 0, 3_600_000, -1);
      if (typeof delay === 'string' || typeof grace === 'string') return json(res, 400, { error: typeof delay === 'string' ? delay : grace });
      const options = { ...(delay >= 0 ? { delay } : {}), ...(grace >= 0 ? { grace } : {}) };
      mesh.drain(options).catch((error: unknown) => process.emitWarning(`admin drain: ${(error as Error).message}`, { code: 'PROXYLESS_W_ADMIN' }));
      json(res, 202, { draining: true, ...options });
    },
  },
  '/log_level': {
    method: 'POST',
    help: `sets the logger's level (?level=${LOG_LEVELS.join('|')}); needs the token`,
    run: ({ res, query, core }) => {
      const logger = core.options.logger;
      if (logger === undefined) return json(res, 404, { error: 'no logger: give the admin server one (mesh.admin({ logger }))' });
      const level = query.get('level');
      if (level === null || !LOG_LEVELS.includes(level)) return json(res, 400, { error: `level: ${JSON.stringify((level ?? '').slice(0, 40))} (expected one of ${LOG_LEVELS.join(', ')})` });
      const previous = logger.level;
      logger.level = level;
      core.events.add('log-level', `log level ${previous} → ${level}`);
      json(res, 200, { level, previous });
    },
  },
};

/** Every endpoint with its method and what it does (the index, also sent with a 404). */
export function adminIndex(prefix = ''): Array<{ path: string; method: string; help: string }> {
  return Object.entries(ENDPOINTS).map(([path, e]) => ({ path: prefix + path, method: e.method, help: e.help }));
}

/**
 * Handles one admin request: bounds the target, routes it, checks the token (every
 * POST; reads too with `protectReads`), and answers JSON errors with what was expected.
 * Returns false when the path is not under `prefix` (a mounted handler leaves it to the
 * host server).
 */
export function handleAdminRequest(req: IncomingMessage, res: ServerResponse, core: AdminCore, mesh: AdminMesh, prefix: string): boolean {
  const target = req.url ?? '/';
  if (prefix !== '' && target !== prefix && !target.startsWith(`${prefix}/`) && !target.startsWith(`${prefix}?`)) return false;
  if (target.length > MAX_URL) {
    json(res, 414, { error: `request target of ${target.length} bytes (expected: at most ${MAX_URL})` }, { connection: 'close' });
    return true;
  }
  const url = new URL(target, 'http://admin');
  const path = url.pathname.slice(prefix.length) || '/';
  const query = url.searchParams;
  let params = 0;
  for (const _ of query.keys()) params++;
  if (params > MAX_PARAMS) {
    json(res, 400, { error: `${params} query parameters (expected: at most ${MAX_PARAMS})` });
    return true;
  }
  const o = core.options;
  const token = presentedToken(req, query);
  const authorised = o.token !== undefined && tokenMatches(token, o.token);
  if (!authorised && !hostAllowed(req, o.host)) {
    json(res, 403, { error: `Host ${JSON.stringify(req.headers.host)} is not this admin server's (expected: a loopback address, localhost or ${o.host}; or a token)` });
    return true;
  }
  if (path === '/' || path === '') {
    // A browser (it asks for HTML first) lands on the dashboard; anything else gets the index.
    if (req.method === 'GET' && /^\s*text\/html\b/i.test(String(req.headers.accept ?? ''))) {
      res.writeHead(302, { location: `${prefix}/dashboard`, 'content-length': '0' }).end();
      return true;
    }
    json(res, 200, { endpoints: adminIndex(prefix) });
    return true;
  }
  const endpoint = ENDPOINTS[path];
  if (endpoint === undefined) {
    json(res, 404, { error: `no admin endpoint ${JSON.stringify(path.slice(0, 200))}`, endpoints: adminIndex(prefix) });
    return true;
  }
  // HEAD is a GET without a body, except for the stream, which would stay open for nothing.
  const method = req.method === 'HEAD' && path !== '/dashboard/stream' ? 'GET' : req.method;
  if (method !== endpoint.method) {
    json(res, 405, { error: `${req.method} ${path} (expected: ${endpoint.method})` }, { allow: endpoint.method });
    return true;
  }
  const needsToken = endpoint.method === 'POST' || (o.protectReads && path !== '/healthz' && path !== '/ready');
  if (needsToken && !authorised) {
    const why = o.token === undefined ? 'no token is configured, so mutating endpoints are off (mesh.admin({ token }))' : token === undefined ? 'a token is needed (Authorization: Bearer <token>)' : 'wrong token';
    json(res, 401, { error: why }, { 'www-authenticate': 'Bearer realm="proxyless-admin"' });
    return true;
  }
  if (endpoint.method === 'POST') {
    // Parameters come in the query; a body is not read (and a large one closes the connection).
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > 65_536) res.setHeader('connection', 'close');
    else req.resume();
  }
  try {
    const done = endpoint.run({ req, res, query, core, mesh });
    if (done instanceof Promise) done.catch((error: unknown) => fail(res, error));
  } catch (error) {
    fail(res, error);
  }
  return true;
}

/** An endpoint that threw: 500 with the message (or the socket closed if the answer had started). */
function fail(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  json(res, 500, { error: error instanceof Error ? error.message : String(error) });
}
