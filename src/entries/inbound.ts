/**
 * `proxyless/inbound`: the server side's building blocks, for an adapter to another
 * framework or a custom server: the structural mesh types `inbound()` takes, the drain
 * lifecycle, the local rate limiter and the adaptive concurrency limiter with their
 * settings, deadline parsing, and the verified peer and token of a request. An
 * application serves with `inbound(mesh)` or `mesh.createServer`, and edits the inbound
 * stack with `inboundLayer`, from the root entry. See docs/serving.md and docs/api.md.
 *
 * @module proxyless/inbound
 */
export * from '../inbound/index.js';
