// scratch: in-process adapter cost through fastify.inject / express via a fake socket pair
import Fastify from 'fastify';
import express from 'express';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { createMesh } from 'proxyless';
import { meshPlugin } from '@proxyless/fastify';
import { meshMiddleware } from '@proxyless/express';

const N = Number(process.argv[2] ?? 20000);
const which = process.argv[3] ?? 'both';

async function fastifyApp(kind: string) {
  const app = Fastify();
  if (kind === 'mesh') await app.register(meshPlugin, { mesh: createMesh(), health: false });
  if (kind === 'hook') app.addHook('onRequest', (_q, _r, next) => next());
  app.get('/hello/:name', async () => 'hello');
  await app.ready();
  return app;
}
function expressApp(kind: string) {
  const app = express();
  if (kind === 'mesh') app.use(meshMiddleware(createMesh(), { health: false }));
  if (kind === 'hook') app.use((_q, _r, next) => next());
  app.get('/hello/:name', async (_req, res) => { res.send('hello'); });
  return app;
}
// Drive a node:http request listener with Node's own objects, no socket I/O: the response is written to a dummy socket.
function driver(listener: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer();
  return () => new Promise<void>((resolve) => {
    const socket = new Socket();
    (socket as any).server = server;
    socket.write = ((_d: unknown, _e?: unknown, cb?: unknown) => { if (typeof cb === 'function') cb(); else if (typeof _e === 'function') (_e as () => void)(); return true; }) as any;
    const req = new IncomingMessage(socket);
    req.url = '/hello/world'; req.method = 'GET'; req.httpVersion = '1.1'; req.httpVersionMajor = 1; req.httpVersionMinor = 1;
    req.rawHeaders = ['host', '127.0.0.1', 'connection', 'keep-alive'];
    req.complete = true; req.push(null);
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.on('finish', () => { res.detachSocket(socket); res.emit('close'); resolve(); });
    listener(req, res);
  });
}
async function time(name: string, run: () => Promise<void>) {
  for (let i = 0; i < 2000; i++) await run();
  const t = process.cpuUsage();
  for (let i = 0; i < N; i++) await run();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / N;
}
const results: Record<string, number[]> = {};
const variants: Array<[string, () => Promise<() => Promise<void>>]> = [];
for (const kind of ['bare', 'hook', 'mesh']) {
  if (which !== 'express') variants.push([`fastify-${kind}`, async () => { const app = await fastifyApp(kind); return driver((req, res) => app.routing(req, res)); }]);
  if (which !== 'fastify') variants.push([`express-${kind}`, async () => { const app = expressApp(kind); return driver(app as any); }]);
}
const runs = await Promise.all(variants.map(async ([n, make]) => [n, await make()] as const));
for (let round = 0; round < 12; round++) {
  for (const [n, run] of round % 2 ? [...runs].reverse() : runs) (results[n] ??= []).push(await time(n, run));
}
for (const [n, xs] of Object.entries(results)) { xs.sort((a, b) => a - b); console.log(n.padEnd(16), "min", xs[0]!.toFixed(2), "q25", xs[3]!.toFixed(2), "med", xs[6]!.toFixed(2)); }
process.exit(0);
