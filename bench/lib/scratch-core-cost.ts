// scratch: per-step cost of the inbound core in-process
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { createMesh, inbound } from 'proxyless';

const n = Number(process.argv[2] ?? 100000);
const mesh = createMesh();
const socket = new Socket();
const noop = (): void => {};
const variants: Record<string, ((req: IncomingMessage, res: ServerResponse) => void) | undefined> = {
  bare: undefined,
  onlyContext: (() => { const s = inbound(mesh, { health: false, stack: (st) => { for (const r of st.roles().slice(0, -1)) st.remove(r); } }); return (q, r) => { s.handle(q, r, noop); }; })(),
  noTelemetry: (() => { const s = inbound(mesh, { health: false, stack: (st) => st.remove('telemetry') }); return (q, r) => { s.handle(q, r, noop); }; })(),
  full: (() => { const s = inbound(mesh, { health: false }); return (q, r) => { s.handle(q, r, noop); }; })(),
  fullHealth: (() => { const s = inbound(mesh, {}); return (q, r) => { s.handle(q, r, noop); }; })(),
};
const one = (h: ((req: IncomingMessage, res: ServerResponse) => void) | undefined): void => {
  const req = new IncomingMessage(socket);
  req.url = '/hello/world';
  req.method = 'GET';
  req.headers = { host: 'svc', 'user-agent': 'bench' };
  const res = new ServerResponse(req);
  if (h) h(req, res);
  res.emit('close');
};
const times: Record<string, number[]> = {};
for (let round = 0; round < 10; round++) {
  for (const [name, h] of Object.entries(variants)) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) one(h);
    const d = process.cpuUsage(t);
    (times[name] ??= []).push((d.user + d.system) / n);
  }
}
for (const [name, xs] of Object.entries(times)) { const s = xs.slice(2).sort((a, b) => a - b); console.log(name.padEnd(12), 'min', s[0]!.toFixed(3), 'q25', s[2]!.toFixed(3), 'med', s[4]!.toFixed(3)); }
await mesh.close();
