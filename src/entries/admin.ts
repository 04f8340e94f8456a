/**
 * `proxyless/admin`: the types of what the admin endpoints answer (`/clusters`,
 * `/config_dump`, `/events`, the dashboard's frames), for a tool or a test that reads
 * them. Types only: an application starts the admin server with `mesh.admin()` or mounts
 * `createAdminHandler`, from the root entry. See docs/admin.md and docs/api.md.
 *
 * @module proxyless/admin
 */
export type * from '../admin/index.js';
