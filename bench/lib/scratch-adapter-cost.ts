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
const fb = driver(await (async () => { const a = await fastifyApp('bare'); return (q: any, r: any) => a.routing(q, r); })());
const fm = driver(await (async () => { const a = await fastifyApp('mesh'); return (q: any, r: any) => a.routing(q, r); })());
const eb = driver(expressApp('bare') as any);
const em = driver(expressApp('mesh') as any);
for (const [name, a, b] of [['fastify', fb, fm], ['express', eb, em]] as const) {
  for (let i = 0; i < 3000; i++) { await a(); await b(); }
  let ta = 0, tb = 0;
  const ratios: number[] = [];
  for (let round = 0; round < 40; round++) {
    let ra = 0, rb = 0;
    for (let batch = 0; batch < 10; batch++) {
      const first = (round + batch) % 2 === 0;
      for (const [run, isA] of first ? [[a, true], [b, false]] as const : [[b, false], [a, true]] as const) {
        const t = performance.now();
        for (let i = 0; i < 50; i++) await run();
        const d = performance.now() - t;
        if (isA) ra += d; else rb += d;
      }
    }
    ta += ra; tb += rb; ratios.push(ra / rb);
  }
  ratios.sort((x, y) => x - y);
  console.log(name, 'bare µs', (ta * 1000 / (40 * 500)).toFixed(2), 'mesh µs', (tb * 1000 / (40 * 500)).toFixed(2), 'throughput ratio (sum)', (ta / tb).toFixed(3), 'median round ratio', ratios[20]!.toFixed(3), 'q10-q90', ratios[4]!.toFixed(3), ratios[36]!.toFixed(3));
}
process.exit(0);
