// A W3C Trace Context test "service under test" and "harness", as the W3C suite
// (w3c/trace-context test/test.py) runs them, built on the real OpenTelemetry SDK and
// the propagator under test. Two deliveries share one service logic:
// - `sockets`: real node:http servers on 127.0.0.1; the harness sends the headers with
//   undici (names and duplicates as written), the service reads Node's `req.headers`
//   (duplicates joined with ", ") or `req.headersDistinct` (arrays), makes each callback
//   with undici, and the harness records the raw headers it received;
// - `memory`: the same service logic on a raw header list (case-insensitive names, every
//   duplicate kept, no whitespace trimmed by an HTTP parser), for the cases an HTTP
//   parser would normalise before the propagator sees them.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, trace, defaultTextMapGetter, defaultTextMapSetter, type TextMapGetter, type TextMapPropagator } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { request } from 'undici';

/** Headers as written on the wire: name (any case) and value, duplicates allowed. */
export type RawHeaders = ReadonlyArray<readonly [string, string]>;

/** Runs one harness request: sends `headers`, asks for `callbacks` callbacks, returns each callback's raw headers. */
export type Exchange = (headers: RawHeaders, callbacks?: number) => Promise<RawHeaders[]>;

/** A case-insensitive getter over a raw header list: one value, or an array for duplicates. */
const rawGetter: TextMapGetter<RawHeaders> = {
  keys: (carrier) => carrier.map(([name]) => name.toLowerCase()),
  get: (carrier, key) => {
    const values = carrier.filter(([name]) => name.toLowerCase() === key).map(([, value]) => value);
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

/** The service logic: extract, a SERVER span, then one CLIENT span and injection per callback. */
function serve<C>(propagator: TextMapPropagator, carrier: C, getter: TextMapGetter<C>, callbacks: number): Array<Record<string, string>> {
  const tracer = provider.getTracer('w3c-service');
  const incoming = propagator.extract(ROOT_CONTEXT, carrier, getter);
  const server = tracer.startSpan('POST /test', { kind: SpanKind.SERVER }, incoming);
  const serverContext = trace.setSpan(incoming, server);
  const out: Array<Record<string, string>> = [];
  for (let i = 0; i < callbacks; i++) {
    const client = tracer.startSpan('POST', { kind: SpanKind.CLIENT }, serverContext);
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(serverContext, client), headers, defaultTextMapSetter);
    client.end();
    out.push(headers);
  }
  server.end();
  return out;
}

// The SDK as an application would set it up (ParentBased(AlwaysOn) sampler, random ids).
const provider = new TracerProvider();

/** The in-memory delivery. */
export function memoryExchange(propagator: TextMapPropagator): Exchange {
  return async (headers, callbacks = 1) =>
    serve(propagator, headers, rawGetter, callbacks).map((h) => Object.entries(h) as Array<[string, string]>);
}

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The socket delivery: a real service and a real harness. Call `close()` when done. */
export async function socketExchange(
  propagator: TextMapPropagator,
  read: 'headers' | 'headersDistinct',
): Promise<{ exchange: Exchange; close: () => Promise<void> }> {
  const received = new Map<string, RawHeaders>();
  const harness = createServer((req, res) => {
    const raw: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    received.set(req.url!, raw);
    req.resume();
    req.on('end', () => res.end());
  });
  // The service protocol of the W3C suite: POST a JSON list of { url, arguments }; the
  // service POSTs `arguments` to each url, propagating its trace context, then answers.
  const service = createServer((req, res) => {
    void (async () => {
      const list = JSON.parse(await readBody(req)) as Array<{ url: string; arguments: unknown }>;
      const injected = serve(propagator, read === 'headers' ? req.headers : req.headersDistinct, defaultTextMapGetter, list.length);
      for (let i = 0; i < list.length; i++) {
        const answer = await request(list[i]!.url, {
          method: 'POST',
          headers: { ...injected[i], 'content-type': 'application/json' },
          body: JSON.stringify(list[i]!.arguments),
        });
        await answer.body.dump();
      }
      res.end();
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  const harnessUrl = await listen(harness);
  const serviceUrl = await listen(service);
  let next = 0;
  const exchange: Exchange = async (headers, callbacks = 1) => {
    const id = next++;
    const urls = Array.from({ length: callbacks }, (_, i) => `${harnessUrl}/${id}/${i}`);
    const answer = await request(`${serviceUrl}/test`, {
      method: 'POST',
      // A flat list keeps each header's spelling and every duplicate.
      headers: [...headers.flatMap(([name, value]) => [name, value]), 'content-type', 'application/json'],
      body: JSON.stringify(urls.map((url) => ({ url, arguments: [] }))),
    });
    const text = await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`service answered ${answer.statusCode}: ${text}`);
    return urls.map((url) => {
      const raw = received.get(new URL(url).pathname);
      if (raw === undefined) throw new Error(`the service made no callback to ${url}`);
      return raw;
    });
  };
  const close = async (): Promise<void> => {
    await Promise.all([harness, service].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  };
  return { exchange, close };
}
