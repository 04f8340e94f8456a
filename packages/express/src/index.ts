/**
 * `@proxyless/express`: the server side of a proxyless mesh as Express 5 middleware.
 * Every request goes through the mesh's inbound stack (health endpoints, drain, trace
 * context and server telemetry, deadline, local rate limiting, load shedding) before your
 * routes, and handlers see what the mesh knows as `req.mesh`.
 *
 * @packageDocumentation
 */
export { meshMiddleware } from './mesh-middleware.js';
export type { MeshMiddleware, MeshMiddlewareOptions } from './mesh-middleware.js';
