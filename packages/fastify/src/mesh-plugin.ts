import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { Inbound, InboundExchange, InvalidOptionError, type InboundOptions, type RequestMesh } from 'proxyless';
import type { InboundMesh } from 'proxyless/inbound';

declare module 'fastify' {
  interface FastifyRequest {
    /** What the mesh knows about this request: the caller's trace context, the deadline, the peer identity. */
    mesh: RequestMesh;
  }
  interface FastifyInstance {
    /** The inbound side the plugin runs (events, state, stack roles). */
    meshInbound: Inbound;
  }
}

/** Options of {@link meshPlugin}: the mesh, and the inbound options (`route` defaults to Fastify's route template). */
export type MeshPluginOptions = InboundOptions & {
  /** The mesh from `createMesh()`. */
  mesh: InboundMesh;
};

/**
 * The `setup` of every request, one shared function (no closure per request): the
 * exchange's `adapterState` is Fastify's reply (`reply.request` is the request).
 */
function setup(exchange: InboundExchange): void {
  (exchange.adapterState as FastifyReply).request.mesh = exchange;
  // Refusals go through Fastify's reply, so its hooks and logs see them.
  exchange.replier = replyThroughFastify;
}

function replyThroughFastify(this: InboundExchange, status: number, body: string, headers: Readonly<Record<string, string>> | undefined): void {
  void (this.adapterState as FastifyReply).code(status).headers(headers ?? {}).type('text/plain; charset=utf-8').send(body);
}

const plugin: FastifyPluginCallback<MeshPluginOptions> = (fastify: FastifyInstance, opts, done) => {
  const { mesh, ...options } = (opts ?? {}) as MeshPluginOptions;
  if (mesh === undefined) {
    return done(new InvalidOptionError('meshPlugin', ['mesh: undefined (expected: the mesh from createMesh(), as app.register(meshPlugin, { mesh }))']));
  }
  let side: Inbound;
  try {
    side = new Inbound(mesh, { ...options, route: options.route ?? fastifyRoute }, 'meshPlugin');
  } catch (error) {
    return done(error as Error);
  }
  fastify.decorate('meshInbound', side);
  fastify.decorateRequest('mesh', null as unknown as RequestMesh);
  side.attach(fastify.server);

  fastify.addHook('onRequest', (request, reply, next) => {
    // Served by mesh.createServer (serverFactory) with its own inbound stack: it already ran.
    const served = InboundExchange.of(reply.raw);
    if (served !== undefined) {
      request.mesh = served;
      served.adapterState ??= reply;
      return next();
    }
    side.handle(request.raw, reply.raw, next, setup, reply);
  });
  fastify.addHook('onError', (request, reply, error, next) => {
    const exchange = InboundExchange.of(reply.raw);
    if (exchange !== undefined) exchange.error ??= error;
    next();
  });
  // No onResponse hook: the inbound core ends each request on its response's 'close' event,
  // which also fires for a caller that went away (where onResponse never runs); an
  // onResponse hook would cost every request Fastify's hook machinery for nothing.
  fastify.addHook('onClose', (instance, next) => {
    side.lifecycle.removeServer(instance.server);
    next();
  });
  done();
};

/** The template of the route Fastify matched (`/orders/:id`); undefined for a 404. */
function fastifyRoute(req: IncomingMessage): string | undefined {
  const reply = (req as { mesh?: InboundExchange }).mesh?.adapterState as FastifyReply | undefined;
  const request = reply?.request;
  return request === undefined || request.is404 ? undefined : request.routeOptions?.url;
}

/**
 * The Fastify 5 plugin (`fastify-plugin` metadata: name `@proxyless/fastify`, fastify
 * `5.x`, so its hooks apply to the whole app):
 *
 * ```ts
 * const app = Fastify();
 * await app.register(meshPlugin, { mesh, loadShedding: {} });
 * app.get('/orders/:id', async (request) => {
 *   const stock = await mesh.fetch('http://inventory/items/1'); // child span, the caller's deadline
 *   return { remainingMs: request.mesh.remainingMs, stock: await stock.json() };
 * });
 * ```
 *
 * Register it before your routes. It runs the inbound stack in an `onRequest` hook
 * (refusals are answered there, through `reply`), records handler errors from `onError`,
 * ends the request's span and metrics when its response closes (complete, or the caller
 * gone), and forgets the server at `onClose`.
 */
export const meshPlugin = fp(plugin, { name: '@proxyless/fastify', fastify: '5.x' });
