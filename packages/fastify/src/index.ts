/**
 * `@proxyless/fastify`: the server side of a proxyless mesh as a Fastify 5 plugin. Every
 * request goes through the mesh's inbound stack (health endpoints, drain, trace context
 * and server telemetry, deadline, local rate limiting, load shedding) in an `onRequest`
 * hook, and handlers see what the mesh knows as `request.mesh`.
 *
 * @packageDocumentation
 */
export { meshPlugin, meshPlugin as default } from './mesh-plugin.js';
export type { MeshPluginOptions } from './mesh-plugin.js';
