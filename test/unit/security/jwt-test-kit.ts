import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload, type CryptoKey } from 'jose';
import type { TokenRequest } from '../../../src/security/index.js';
import { Progress } from '../../helpers/wait.js';

/** A signing key made at test time, with its public JWK. */
export interface TestKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

/** A fresh key pair for `alg` with key id `kid`. */
export async function testKey(alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256', kid = `k-${Math.random().toString(36).slice(2, 8)}`): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

/** A signed token; `exp` one hour ahead unless the payload sets it (set `exp: undefined` for none). */
export async function sign(key: TestKey, payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const body: JWTPayload = { iat: now, exp: now + 3600, ...payload };
  if ('exp' in payload && payload.exp === undefined) delete body.exp;
  return new SignJWT(body).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

/** A JWKS text of these keys. */
export function jwksOf(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.jwk) });
}

/** A token request (`url` with the query, headers by lower-case name). */
export function tokenRequest(headers: Record<string, string> = {}, url = '/', method = 'GET'): TokenRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method, url, header: (name) => lower[name] };
}

/** A real HTTP server on 127.0.0.1 serving a JWKS, programmable per request. */
export interface JwksServer {
  readonly url: string;
  /** Requests received so far. */
  readonly hits: number;
  /** What the next requests get (default: 200 with `body`). */
  respond: (req: IncomingMessage, res: ServerResponse) => void;
  body: string;
  /** Notified on every request. */
  readonly progress: Progress;
  close(): Promise<void>;
}

/** Starts a JWKS server with `body`. */
export async function startJwksServer(body: string, path = '/.well-known/jwks.json'): Promise<JwksServer> {
  const sockets = new Set<Socket>();
  const progress = new Progress();
  const state = {
    hits: 0,
    body,
    respond: (_req: IncomingMessage, res: ServerResponse): void => {
      res.setHeader('content-type', 'application/json');
      res.end(state.body);
    },
  };
  const server: Server = createServer((req, res) => {
    state.hits++;
    progress.notify();
    state.respond(req, res);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    get hits() {
      return state.hits;
    },
    get respond() {
      return state.respond;
    },
    set respond(fn) {
      state.respond = fn;
    },
    get body() {
      return state.body;
    },
    set body(text) {
      state.body = text;
    },
    progress,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
