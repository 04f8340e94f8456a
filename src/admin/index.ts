/**
 * What the admin endpoints answer, typed, published as `proxyless/admin`
 * (src/entries/admin.ts): the JSON of `/clusters`, `/config_dump`, `/events` and the
 * dashboard's frames, for a tool that reads them. The admin server itself
 * (`mesh.admin()`, `createAdminHandler`) and its options are in the root entry,
 * src/index.ts. See docs/admin.md.
 */
export type { Cluster, ClusterEndpoint, ClusterOutlier, ClusterActiveHealth, ClusterCircuit, ClusterCounts } from './clusters.js';
export type { ConfigDump, DumpedResource, RouteDump, RouteDestinationDump } from './config-dump.js';
export type { ConfigRecord } from './mesh-view.js';
export type { AdminEvent } from './events.js';
export type { DashboardFrame, FrameService, FrameHistory, FrameTotals, FrameSplit } from './frame.js';
