/**
 * The admin module: an HTTP admin server for a mesh (JSON endpoints, a live dashboard,
 * Prometheus text), or the same as a handler to mount. See docs/admin.md.
 */
export { startAdmin, createAdminHandler } from './admin-server.js';
export type { AdminServer, AdminHandler, AdminHandlerOptions } from './admin-server.js';
export { resolveAdminOptions, isLoopback } from './options.js';
export type { AdminOptions, AdminLogger, PrometheusSource, ResolvedAdminOptions } from './options.js';
export type { Cluster, ClusterEndpoint } from './clusters.js';
export type { ConfigDump, RouteDump } from './config-dump.js';
export type { ConfigRecord } from './mesh-view.js';
export type { AdminEvent } from './events.js';
export type { DashboardFrame, FrameService } from './frame.js';
