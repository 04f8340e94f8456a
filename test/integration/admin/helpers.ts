import { request } from 'node:http';

/** A raw HTTP request (node:http, so Host and long targets go out as given). */
export function raw(url: string, options: { method?: string; path?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: options.method ?? 'GET', path: options.path ?? u.pathname + u.search, headers: options.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET as JSON with an optional bearer token. */
export async function getJson(url: string, token?: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: r.status, body: await r.json() };
}

/** Polls `check` on each admin tick event until it holds (no sleeps: waits on the mesh's own progress). */
export async function until<T>(read: () => Promise<T>, holds: (value: T) => boolean, tries = 100_000): Promise<T> {
  let value = await read();
  for (let i = 0; i < tries && !holds(value); i++) {
    await new Promise((r) => setImmediate(r));
    value = await read();
  }
  if (!holds(value)) throw new Error(`condition not met; last value: ${JSON.stringify(value).slice(0, 500)}`);
  return value;
}
