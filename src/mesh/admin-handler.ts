import { createAdminHandlerFor, type AdminHandler, type AdminHandlerOptions } from '../admin/admin-server.js';
import type { Mesh } from './mesh.js';

/**
 * The admin endpoints of `mesh` as a request handler, for a server you already run
 * (`mesh.admin()` starts a server of its own instead):
 *
 * ```ts
 * const admin = createAdminHandler(mesh, { prefix: '/admin', token });
 * http.createServer((req, res) => { if (!admin.handle(req, res)) app(req, res); });
 * ```
 *
 * The token rules are those of `mesh.admin()`; `host` is what `Host` headers may name
 * besides loopback addresses (default `127.0.0.1`). See docs/admin.md.
 */
export function createAdminHandler(mesh: Mesh, options: AdminHandlerOptions = {}): AdminHandler {
  return createAdminHandlerFor(mesh, options);
}
