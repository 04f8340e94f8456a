import type { Server } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Inbound, InboundExchange, type InboundOptions, type RequestMesh } from 'proxyless';
import type { InboundMesh } from 'proxyless/inbound';

declare global {
  // Express's own extension point for request properties.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** What the mesh knows about this request: the caller's trace context, the deadline, the peer identity. */
      mesh: RequestMesh;
    }
  }
}

/** Options of {@link meshMiddleware}: the inbound options; `route` defaults to Express's matched route template. */
export type MeshMiddlewareOptions = InboundOptions;

/** The middleware, with the inbound behind it. */
export interface MeshMiddleware extends RequestHandler {
  /** The inbound side this middleware runs (events, state, stack roles). */
  readonly inbound: Inbound;
  /** Adds the server the drain stops (`app.listen()` returns it); also found from its first request. */
  attach<S extends Server>(server: S): S;
}

/**
 * Express 5 middleware running the mesh's inbound stack for every request:
 *
 * ```ts
 * const app = express();
 * app.use(meshMiddleware(mesh, { rateLimit: { tokenBucket: { maxTokens: 100, tokensPerFill: 100, fillInterval: '1s' } } }));
 * app.get('/orders/:id', async (req, res) => {
 *   const stock = await mesh.fetch('http://inventory/items/1'); // child span, the caller's deadline
 *   res.json({ remainingMs: req.mesh.remainingMs, stock: await stock.json() });
 * });
 * ```
 *
 * Use it first (before body parsers and routes): health endpoints are answered before
 * your routes, refusals (429, 503, 504) never reach them, and `http.route` on spans and
 * metrics is the route template Express matched (`/orders/:id`), never the raw path.
 *
 * @param mesh the mesh; @param options see {@link MeshMiddlewareOptions} (validated now)
 */
export function meshMiddleware(mesh: InboundMesh, options: MeshMiddlewareOptions = {}): MeshMiddleware {
  const side = new Inbound(mesh, { ...options, route: options?.route ?? expressRoute }, 'meshMiddleware');
  const middleware = ((req: Request, res: Response, next: NextFunction): void => {
    // Served by mesh.createServer(app): its inbound stack already ran for this request.
    if (InboundExchange.of(res) !== undefined) return next();
    side.handle(req, res, next); // called as x.proceed(): no arguments, as next() wants
  }) as MeshMiddleware;
  Object.defineProperty(middleware, 'inbound', { value: side, enumerable: true });
  middleware.attach = (server) => side.attach(server);
  return middleware;
}

/** The template of the route Express matched, with the mount path of its router (`/api` + `/orders/:id`). */
function expressRoute(req: import('node:http').IncomingMessage): string | undefined {
  const r = req as Partial<Request>;
  const path: unknown = r.route?.path;
  if (path === undefined) return undefined;
  const template = typeof path === 'string' ? path : String(path);
  return `${r.baseUrl ?? ''}${template}`;
}
