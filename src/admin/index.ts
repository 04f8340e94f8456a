/**
 * The admin module: an HTTP admin server for a mesh (JSON endpoints, a live dashboard,
 * Prometheus text), or the same as a handler to mount. See docs/admin.md.
 */
export { startAdmin, createAdminHandler } from './admin-server.js';
export type { AdminServer, AdminHandler, AdminHandlerOptions } from './admin-server.js';
export { resolveAdminOptions, isLoopback } from './options.js';
export type { AdminOptions, AdminLogger, PrometheusSource, PrometheusExporterLike, ResolvedAdminOptions } from './options.js';
export type { Cluster, ClusterEndpoint, ClusterOutlier, ClusterActiveHealth, ClusterCircuit, ClusterCounts } from './clusters.js';
export type { ConfigDump, DumpedResource, RouteDump, RouteDestinationDump } from './config-dump.js';
export type { ConfigRecord } from './mesh-view.js';
export type { AdminEvent } from './events.js';
export type { DashboardFrame, FrameService, FrameHistory, FrameTotals, FrameSplit } from './frame.js';
