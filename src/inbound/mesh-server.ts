/**
 * `mesh.createServer(listener)`: a node:http server whose port speaks what
 * PeerAuthentication says for it, decided per connection with the config in force:
 *
 * - `STRICT`: mutual TLS only. A plaintext client gets a short HTTP 400 saying mTLS is
 *   required (so curl shows why) and its connection is closed.
 * - `PERMISSIVE` (the default, as in Istio when no policy applies): mutual TLS and
 *   plaintext on the same port, told apart by the first byte of the connection (a TLS
 *   handshake record starts with 0x16; an HTTP/1 request with a method's letter), as
 *   Envoy's TLS inspector does.
 * - `DISABLE`: plaintext only (TLS bytes reach the HTTP parser, which answers 400).
 *
 * TLS connections are served with the mesh's current SVID (a rotation reaches new
 * connections; open ones finish on the old certificate) and every client is checked by
 * the SPIFFE rules before a byte of its request is read ({@link serveWithIdentity}); a
 * refused client's error goes to the server's `tlsClientError` event. The verified peer
 * is `req.mesh.peer` for the inbound steps (authorization reads it).
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { InvalidOptionError, ProxylessError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import type { MtlsMode } from '../security/types.js';
import type { PathSteps } from '../route/normalize-path.js';
import type { IdentitySource } from '../tls/identity-source.js';
import { serveWithIdentity, serverTlsOptions } from '../tls/secure-context.js';
import { Inbound, type InboundMesh } from './inbound.js';
import { setSocketPeer, type InboundSecurityView } from './security-steps.js';
import type { InboundOptions, MeshIncomingMessage } from './types.js';

/** The first byte of a TLS handshake record (RFC 8446 §5.1: ContentType handshake). */
const TLS_HANDSHAKE = 0x16;
/** How long a new connection may stay silent before its first byte (ms). */
const DEFAULT_FIRST_BYTE_TIMEOUT_MS = 10_000;
/** How long a TLS handshake may take (ms). */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A connection refused by the port's PeerAuthentication mode (plaintext under STRICT, TLS without an identity). */
export class PeerAuthenticationRefusedError extends ProxylessError {
  /** The port's mode. */
  readonly mode: MtlsMode;
  /** @param mode the port's mode; @param message what the client sent and why it was refused */
  constructor(mode: MtlsMode, message: string) {
    super('PROXYLESS_ERR_PEER_AUTHENTICATION', message);
    this.mode = mode;
  }
}

/** What the server reads of a mesh. */
export interface MeshServerMesh extends InboundMesh {
  /** @internal identity and compiled security resources. */
  inboundSecurity(): { readonly identity: IdentitySource | undefined; readonly security: InboundSecurityView; readonly pathSteps: PathSteps };
}

/** Answers a connection refused before HTTP started with a short HTTP/1.1 error saying why, then closes it. */
function answerAndClose(socket: Socket, status: 400 | 403, message: string): void {
  if (socket.destroyed) return;
  const body = `${message}\n`;
  const reason = status === 400 ? 'Bad Request' : 'Forbidden';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  // A client that never reads must not hold the socket.
  socket.setTimeout(5000, () => socket.destroy());
}

/** Options of `mesh.createServer`. */
export interface CreateServerOptions {
  /**
   * The inbound stack around the listener (health, telemetry, identity, authorization,
   * deadline, limits): its options, or `false` when the listener already runs it (a
   * Fastify app with `meshPlugin`, an Express app with `meshMiddleware`: they find the
   * server's peer themselves). Default `{}`: the stack with its defaults.
   */
  readonly inbound?: InboundOptions | false;
  /** How long a new connection may stay silent before its first byte, in ms. Default 10000. */
  readonly firstByteTimeout?: number;
  /** How long a TLS handshake may take, in ms. Default 10000. */
  readonly handshakeTimeout?: number;
}

/** What `mesh.createServer` returns: a node:http server, with the inbound that serves it. */
export type MeshServer = Server & {
  /** The inbound stack serving the listener (undefined with `inbound: false`). */
  readonly inbound: Inbound | undefined;
  /** The mTLS mode of a port of this server now (PeerAuthentication in force). */
  mtlsMode(port?: number): MtlsMode;
};

function timeoutOption(value: unknown, field: string, fallback: number, problems: string[]): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 3_600_000) {
    problems.push(`${field}: ${formatValue(value)} (expected: whole milliseconds, 1..3600000)`);
  }
  return value as number;
}

/** Creates the server of `mesh.createServer` (see the module comment). */
export function createMeshServer(mesh: MeshServerMesh, listener: (req: MeshIncomingMessage, res: ServerResponse) => unknown, options: CreateServerOptions = {}): MeshServer {
  const where = 'mesh.createServer';
  if (typeof listener !== 'function') throw new InvalidOptionError(where, [`listener: ${formatValue(listener)} (expected: a request listener (req, res) => void, an Express app, or Fastify's serverFactory handler)`]);
  if (options === null || typeof options !== 'object') throw new InvalidOptionError(where, [`options: ${formatValue(options)} (expected: an object)`]);
  const problems: string[] = [];
  for (const key of Object.keys(options)) if (!['inbound', 'firstByteTimeout', 'handshakeTimeout'].includes(key)) problems.push(`${key}: unknown field (expected one of: inbound, firstByteTimeout, handshakeTimeout)`);
  const firstByteTimeout = timeoutOption(options.firstByteTimeout, 'firstByteTimeout', DEFAULT_FIRST_BYTE_TIMEOUT_MS, problems);
  const handshakeTimeout = timeoutOption(options.handshakeTimeout, 'handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT_MS, problems);
  if (options.inbound !== undefined && options.inbound !== false && (options.inbound === null || typeof options.inbound !== 'object')) problems.push(`inbound: ${formatValue(options.inbound)} (expected: inbound options, or false)`);
  if (problems.length > 0) throw new InvalidOptionError(where, problems);

  const side = options.inbound === false ? undefined : new Inbound(mesh, options.inbound ?? {}, where);
  const { identity, security } = mesh.inboundSecurity();
  const server = createHttpServer(side === undefined ? (listener as RequestListener) : side.handler(listener as (req: MeshIncomingMessage, res: ServerResponse) => unknown)) as MeshServer;
  // http.Server's own connection listener (its HTTP parser): called by us once we know
  // the connection is plaintext, or with the TLS socket once the peer is verified.
  const serveHttp = server.listeners('connection')[0] as (socket: Socket) => void;
  server.removeListener('connection', serveHttp);

  let tlsServer: TlsServer | undefined;
  const tlsFor = (): TlsServer | undefined => {
    if (tlsServer !== undefined) return tlsServer;
    const svid = identity?.current();
    if (identity === undefined || svid === undefined) return undefined;
    tlsServer = createTlsServer({ ...serverTlsOptions(svid), handshakeTimeout });
    const stop = serveWithIdentity(tlsServer, identity, {
      onPeer: (verified, socket) => setSocketPeer(socket, { spiffeId: verified.spiffeId.uri, principal: verified.spiffeId.principal }),
      // Over the encrypted channel, so the client's first read says why it was refused.
      refuse: (socket, error) => answerAndClose(socket, 403, `client certificate refused: ${error.message}`),
    });
    server.once('close', stop);
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      // serveWithIdentity's check ran first: a refused client's socket is ending.
      if (socket.destroyed || socket.writableEnded) return;
      serveHttp.call(server, socket);
    });
    tlsServer.on('tlsClientError', (error: Error, socket: TLSSocket) => {
      // A refused peer is being answered why (ending); any other TLS failure ends here.
      if (!socket.writableEnded) socket.destroy();
      server.emit('tlsClientError', error, socket);
    });
    return tlsServer;
  };

  const modeOf = (port: number): MtlsMode => security.current.compiled.peerAuthentication.mode(port);
  const refuse = (socket: Socket, mode: MtlsMode, message: string, answer: boolean): void => {
    if (answer) answerAndClose(socket, 400, message);
    else socket.destroy();
    server.emit('tlsClientError', new PeerAuthenticationRefusedError(mode, `client ${socket.remoteAddress}:${socket.remotePort}: ${message}`), socket);
  };

  server.on('connection', (socket: Socket) => {
    const mode = modeOf(socket.localPort ?? 0);
    if (mode === 'DISABLE') return serveHttp.call(server, socket);
    socket.setTimeout(firstByteTimeout, () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) {
        const tls = tlsFor();
        if (tls === undefined) return refuse(socket, mode, `mutual TLS on port ${socket.localPort} needs the workload's identity (createMesh({ identity }))${identity === undefined ? '' : `: source ${identity.name} has no SVID yet`}`, false);
        // http.Server accepts half-open sockets; a TLS handshake must not wait on one
        // (a client that hangs up mid-handshake would hold it until handshakeTimeout).
        socket.allowHalfOpen = false;
        tls.emit('connection', socket);
        return;
      }
      if (mode === 'STRICT') return refuse(socket, mode, `mutual TLS is required on port ${socket.localPort} (PeerAuthentication mode STRICT): this client sent plaintext`, true);
      serveHttp.call(server, socket);
      socket.resume();
    });
  });

  Object.defineProperty(server, 'inbound', { value: side, enumerable: true });
  server.mtlsMode = (port?: number) => {
    const p = port ?? ((server.address() as { port?: number } | null)?.port ?? 0);
    return modeOf(p);
  };
  side?.attach(server);
  return server;
}

export type { IncomingMessage };
