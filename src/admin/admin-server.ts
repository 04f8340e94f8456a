import type { AdminMesh } from './mesh-view.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import { AdminCore } from './core.js';
import { handleAdminRequest } from './handler.js';
import { resolveAdminOptions, type AdminOptions } from './options.js';

export type { AdminOptions } from './options.js';

/** A running admin server: see `mesh.admin()`. */
export interface AdminServer {
  /** `http://host:port`, the port the server got. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The dashboard's address. */
  readonly dashboardUrl: string;
  /** Stops listening and ends every connection and dashboard stream. Safe to call twice. */
  close(): Promise<void>;
  /** Called once closed (the mesh forgets it). @internal */
  onClose?: (() => void) | undefined;
}

/** Starts an admin server for `mesh` (use `mesh.admin()`, which also closes it with the mesh). */
export async function startAdmin(mesh: AdminMesh, options: AdminOptions): Promise<AdminServer> {
  const o = resolveAdminOptions(options);
  const core = new AdminCore(mesh, o);
  const server: Server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000, maxHeaderSize: 16_384 }, (req, res) => {
    if (!handleAdminRequest(req, res, core, mesh, '')) res.writeHead(404).end();
  });
  server.maxConnections = o.maxConnections;
  // Dashboard streams stay open: requestTimeout covers receiving the request only.
  server.keepAliveTimeout = 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(o.port, o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    core.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const admin: AdminServer = {
    url: `http://${host}:${address.port}`,
    port: address.port,
    dashboardUrl: `http://${host}:${address.port}/dashboard`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        core.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => admin.onClose?.())),
  };
  return admin;
}

/** Options of {@link createAdminHandler}: the admin options but the listening ones, and a path prefix. */
export interface AdminHandlerOptions extends Omit<AdminOptions, 'port' | 'maxConnections'> {
  /** The path the admin is mounted under, e.g. `/admin` (default: the root). */
  prefix?: string;
}

/** An admin request handler to mount on a server of your own. */
export interface AdminHandler {
  /** Handles the request if its path is under the prefix (then returns true); else returns false and leaves it alone. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Stops the sampler and ends the dashboard streams. */
  close(): void;
}

/**
 * The admin endpoints as a request handler, for a server you already run:
 *
 * ```ts
 * const admin = createAdminHandler(mesh, { prefix: '/admin', token });
 * http.createServer((req, res) => { if (!admin.handle(req, res)) app(req, res); });
 * ```
 *
 * The token rules are those of `mesh.admin()`; `host` is what `Host` headers may name
 * besides loopback addresses (default `127.0.0.1`).
 */
export function createAdminHandler(mesh: AdminMesh, options: AdminHandlerOptions = {}): AdminHandler {
  const { prefix = '', ...rest } = options;
  if (typeof prefix !== 'string' || (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix))) {
    throw new InvalidOptionError('createAdminHandler', [`prefix: ${formatValue(prefix)} (expected: a path such as /admin, without a trailing slash)`]);
  }
  const core = new AdminCore(mesh, resolveAdminOptions(rest, 'createAdminHandler'));
  return { handle: (req, res) => handleAdminRequest(req, res, core, mesh, prefix), close: () => core.close() };
}
