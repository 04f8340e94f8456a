import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type TLSSocket } from 'node:tls';

/** PEM text of a certificate and its key. */
export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

/** A test CA made with openssl, able to sign leaves. */
export interface TestCa extends KeyPair {
  /** A leaf certificate signed by this CA, for the given subjectAltName entries (`DNS:api`, `IP:127.0.0.1`). */
  leaf(commonName: string, altNames: readonly string[], usage?: 'serverAuth' | 'clientAuth'): KeyPair;
}

/**
 * Certificates made at test time with the openssl CLI (EC P-256, valid one day), in a
 * temporary directory removed by `cleanup()`.
 */
export interface TestPki {
  /** A new CA. */
  ca(name: string): TestCa;
  /** Removes the temporary directory. */
  cleanup(): void;
}

/** Starts making certificates in a fresh temporary directory. */
export function testPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'proxyless-pki-'));
  let serial = 0;
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const file = (name: string): string => join(dir, name);
  return {
    ca(name) {
      const base = `${name}-${++serial}`;
      openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`,
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
        '-keyout', file(`${base}.key`), '-out', file(`${base}.crt`));
      const ca: KeyPair = { cert: readFileSync(file(`${base}.crt`), 'utf8'), key: readFileSync(file(`${base}.key`), 'utf8') };
      return {
        ...ca,
        leaf(commonName, altNames, usage = 'serverAuth') {
          const leaf = `${base}-leaf-${++serial}`;
          writeFileSync(file(`${leaf}.ext`), [
            'basicConstraints=critical,CA:FALSE',
            'keyUsage=critical,digitalSignature',
            `extendedKeyUsage=${usage}`,
            ...(altNames.length > 0 ? [`subjectAltName=${altNames.join(',')}`] : []),
          ].join('\n'));
          openssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${commonName}`,
            '-keyout', file(`${leaf}.key`), '-out', file(`${leaf}.csr`));
          openssl('x509', '-req', '-in', file(`${leaf}.csr`), '-CA', file(`${base}.crt`), '-CAkey', file(`${base}.key`), '-set_serial', String(1000 + serial),
            '-days', '1', '-extfile', file(`${leaf}.ext`), '-out', file(`${leaf}.crt`));
          return { cert: readFileSync(file(`${leaf}.crt`), 'utf8'), key: readFileSync(file(`${leaf}.key`), 'utf8') };
        },
      };
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A real HTTPS server on 127.0.0.1 that records what each TLS client sent. */
export interface HttpsBackend {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** SNI of each handshake, in order. */
  readonly servernames: string[];
  /** Requests answered, by path. */
  readonly paths: string[];
  /** Subject CN of the client certificate of each request (`-` without one). */
  readonly clients: string[];
  close(): Promise<void>;
}

/**
 * Starts an HTTPS server with `identity`. With `clientCa`, it requires a client
 * certificate signed by that CA (mutual TLS). `handle` answers; by default `200 https`.
 */
export async function startHttpsBackend(options: {
  identity: KeyPair;
  clientCa?: string;
  handle?: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<HttpsBackend> {
  const sockets = new Set<Socket>();
  const secure = { cert: options.identity.cert, key: options.identity.key, ...(options.clientCa ? { ca: options.clientCa } : {}) };
  const backend = { port: 0, address: '', servernames: [] as string[], paths: [] as string[], clients: [] as string[] } as HttpsBackend & { port: number; address: string };
  let server!: Server;
  server = createHttpsServer(
    {
      ...secure,
      requestCert: options.clientCa !== undefined,
      rejectUnauthorized: options.clientCa !== undefined,
      SNICallback: (servername, callback) => {
        backend.servernames.push(servername);
        callback(null, createSecureContext(secure));
      },
    },
    (req, res) => {
      backend.paths.push(req.url ?? '');
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      backend.clients.push(peer && peer.subject ? String(peer.subject.CN) : '-');
      if (options.handle) options.handle(req, res);
      else res.end('https');
    },
  );
  server.on('tlsClientError', () => {}); // failed handshakes are what some tests provoke
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.port = (server.address() as AddressInfo).port;
  backend.address = `127.0.0.1:${backend.port}`;
  backend.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return backend;
}
