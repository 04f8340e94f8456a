import { monitorEventLoopDelay } from 'node:perf_hooks';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_CONTEXT, SpanKind, TraceFlags, trace, defaultTextMapGetter, defaultTextMapSetter, type Context, type TextMapGetter } from '@opentelemetry/api';
import { suppressTracing, TraceState as CoreTraceState } from '@opentelemetry/core';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { TraceContextPropagator } from 'proxyless';
import { W3CTraceState, parseTraceParent, formatTraceParent, MAX_TRACESTATE_FIELDS } from 'proxyless/telemetry';
import { setOtelApiLoaderForTests } from '../../../src/telemetry/otel-api.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';
const propagator = new TraceContextPropagator();

/** Extracts from a plain header object, then injects the same context into a new one (a pass-through hop). */
function hop(headers: Record<string, string | string[]>, p = propagator): Record<string, string> {
  const out: Record<string, string> = {};
  p.inject(p.extract(ROOT_CONTEXT, headers, defaultTextMapGetter), out, defaultTextMapSetter);
  return out;
}

afterEach(() => setOtelApiLoaderForTests());

describe('parseTraceParent', () => {
  it.each<[string, ReturnType<typeof parseTraceParent>]>([
    [`00-${TRACE}-${SPAN}-01`, { version: 0, traceId: TRACE, parentId: SPAN, traceFlags: 1 }],
    [`00-${TRACE}-${SPAN}-03`, { version: 0, traceId: TRACE, parentId: SPAN, traceFlags: 3 }],
    // Unknown flags are cleared: this implementation sends only the flags it knows.
    [`00-${TRACE}-${SPAN}-ff`, { version: 0, traceId: TRACE, parentId: SPAN, traceFlags: 3 }],
    [`01-${TRACE}-${SPAN}-00-anything-after-a-dash`, { version: 1, traceId: TRACE, parentId: SPAN, traceFlags: 0 }],
    [`fe-${TRACE}-${SPAN}-02`, { version: 254, traceId: TRACE, parentId: SPAN, traceFlags: 2 }],
    [` \t00-${TRACE}-${SPAN}-01\t `, { version: 0, traceId: TRACE, parentId: SPAN, traceFlags: 1 }],
  ])('%j is valid', (header, parsed) => {
    expect(parseTraceParent(header)).toEqual(parsed);
  });

  it.each([
    '',
    `00-${TRACE}-${SPAN}-01-`,
    `01-${TRACE}-${SPAN}-01.`,
    `01-${TRACE}-${SPAN}-0`,
    `00-${TRACE.toUpperCase()}-${SPAN}-01`,
    `00-${TRACE}-${SPAN.toUpperCase()}-01`,
    `00-${TRACE}-${SPAN}-0A`,
    `0A-${TRACE}-${SPAN}-01`,
    `00_${TRACE}-${SPAN}-01`,
    `00-${TRACE}_${SPAN}-01`,
    `00-${TRACE}-${SPAN}_01`,
    `00-${TRACE}-${SPAN}-01\n`,
    `\n00-${TRACE}-${SPAN}-01`,
    `00-${TRACE}-${SPAN}-01`.replace('-01', '-+1'),
    `01-${TRACE}-${SPAN}-01-${'x'.repeat(1000)}`,
  ])('%j is refused', (header) => {
    expect(parseTraceParent(header)).toBeUndefined();
  });

  it('formats version 00 with two lowercase digits and only the known flags', () => {
    expect(formatTraceParent(TRACE, SPAN, 0xff)).toBe(`00-${TRACE}-${SPAN}-03`);
    expect(formatTraceParent(TRACE, SPAN, 0)).toBe(`00-${TRACE}-${SPAN}-00`);
  });
});

describe('W3CTraceState', () => {
  it('set puts the key first, replaces an old value, and drops the right-most past 32 members', () => {
    const full = W3CTraceState.parse(Array.from({ length: 32 }, (_, i) => `k${i}=${i}`).join(','))!;
    expect(full.size).toBe(32);
    const next = full.set('new', 'v') as W3CTraceState;
    expect(next.size).toBe(32);
    expect(next.serialize().startsWith('new=v,k0=0,')).toBe(true);
    expect(next.get('k31')).toBeUndefined();
    expect((next.set('k5', 'x') as W3CTraceState).serialize().startsWith('k5=x,new=v,k0=0,k1=1,k2=2,k3=3,k4=4,k6=6')).toBe(true);
  });

  it('set with an invalid key or value, or an entry longer than the bound, returns the same list', () => {
    const state = W3CTraceState.parse('a=1')!;
    expect(state.set('A', '1')).toBe(state);
    expect(state.set('a', 'x,y')).toBe(state);
    expect(state.set('a', '')).toBe(state);
    expect(state.set('z'.repeat(256), 'v'.repeat(256))).toBe(state);
  });

  it('unset removes one key and keeps the order of the rest', () => {
    const state = W3CTraceState.parse('a=1,b=2,c=3')!;
    expect(state.unset('b').serialize()).toBe('a=1,c=3');
    expect(state.unset('x')).toBe(state);
  });

  it('a list over the bound loses entries over 128 characters first, right-most first, then entries from the right', () => {
    const long = (k: string) => `${k}=${'v'.repeat(130)}`;
    const short = (k: string) => `${k}=${'s'.repeat(60)}`;
    // 3 long (132 each) + 4 short (62 each) + 6 commas = 650 > 512.
    const header = [short('a'), long('l1'), short('b'), long('l2'), short('c'), long('l3'), short('d')].join(',');
    const state = W3CTraceState.parse(header)!;
    // Removing l3 leaves 517, still over; removing l2 too leaves 384: l1 stays.
    expect([...state.entries()].map(([k]) => k)).toEqual(['a', 'l1', 'b', 'c', 'd']);
    expect(state.serialize().length).toBeLessThanOrEqual(512);
    const shortOnly = Array.from({ length: 10 }, (_, i) => short(`k${i}`)).join(',');
    // 10 × 62 + 9 = 629: the right-most go until it fits (8 × 62 + 7 = 503).
    expect([...W3CTraceState.parse(shortOnly)!.entries()].map(([k]) => k)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7']);
    // A larger bound keeps everything.
    expect(W3CTraceState.parse(shortOnly, 1024)!.size).toBe(10);
  });

  it('a single entry longer than the bound leaves nothing to propagate', () => {
    expect(W3CTraceState.parse(`${'z'.repeat(256)}=${'v'.repeat(256)}`)).toBeUndefined();
    expect(W3CTraceState.parse(`${'z'.repeat(256)}=${'v'.repeat(256)}`, 1024)!.size).toBe(1);
  });
});

describe('TraceContextPropagator', () => {
  it('keeps the random flag through SDK spans, which drop it themselves', () => {
    const tracer = new TracerProvider().getTracer('t');
    const incoming = propagator.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-${SPAN}-03` }, defaultTextMapGetter);
    const span = tracer.startSpan('call', { kind: SpanKind.CLIENT }, incoming);
    // The SDK makes a child with the sampled flag only: what the fix exists for.
    expect(span.spanContext().traceFlags).toBe(TraceFlags.SAMPLED);
    const out: Record<string, string> = {};
    propagator.inject(trace.setSpan(incoming, span), out, defaultTextMapSetter);
    expect(out.traceparent).toBe(`00-${TRACE}-${span.spanContext().spanId}-03`);
    // A new trace started under it (another trace id) does not get the caller's flag.
    const root = tracer.startSpan('root', { root: true }, incoming);
    const rootOut: Record<string, string> = {};
    propagator.inject(trace.setSpan(incoming, root), rootOut, defaultTextMapSetter);
    expect(rootOut.traceparent!.endsWith('-01')).toBe(true);
  });

  it('a later extract without the random flag clears it', () => {
    const first = propagator.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-${SPAN}-02` }, defaultTextMapGetter);
    const second = propagator.extract(first, { traceparent: `00-${TRACE}-${SPAN}-00` }, defaultTextMapGetter);
    const out: Record<string, string> = {};
    propagator.inject(second, out, defaultTextMapSetter);
    expect(out.traceparent).toBe(`00-${TRACE}-${SPAN}-00`);
  });

  it('injects nothing when tracing is suppressed (the SDK core key), as the stock propagator', () => {
    const context = propagator.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-${SPAN}-01` }, defaultTextMapGetter);
    const out: Record<string, string> = {};
    propagator.inject(suppressTracing(context), out, defaultTextMapSetter);
    expect(out).toEqual({});
  });

  it("passes another implementation's tracestate on when valid, and drops it whole when not", () => {
    const base = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: 1, traceState: new CoreTraceState('a=1,b=2') });
    const out: Record<string, string> = {};
    propagator.inject(base, out, defaultTextMapSetter);
    expect(out.tracestate).toBe('a=1,b=2');
    const lying = { set: () => lying, unset: () => lying, get: () => undefined, serialize: () => 'ok=1,BAD=2' };
    const out2: Record<string, string> = {};
    propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE, spanId: SPAN, traceFlags: 1, traceState: lying }), out2, defaultTextMapSetter);
    expect(out2).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01` });
  });

  it('injects nothing for an invalid span context', () => {
    for (const [traceId, spanId] of [['0'.repeat(32), SPAN], [TRACE, '0'.repeat(16)], [TRACE.toUpperCase(), SPAN], ['x', SPAN]] as const) {
      const out: Record<string, string> = {};
      propagator.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: 1 }), out, defaultTextMapSetter);
      expect(out).toEqual({});
    }
  });

  it('never throws: a throwing getter or setter leaves the context and the request alone', () => {
    const throwing: TextMapGetter = { keys: () => [], get: () => { throw new Error('boom'); } };
    expect(propagator.extract(ROOT_CONTEXT, {}, throwing)).toBe(ROOT_CONTEXT);
    const context = propagator.extract(ROOT_CONTEXT, { traceparent: `00-${TRACE}-${SPAN}-01` }, defaultTextMapGetter);
    expect(() => propagator.inject(context, {}, { set: () => { throw new Error('boom'); } })).not.toThrow();
  });

  it('without @opentelemetry/api, extract returns the context and inject writes nothing', () => {
    setOtelApiLoaderForTests(() => {
      throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
    });
    const context = { getValue: () => undefined, setValue: () => context, deleteValue: () => context } as unknown as Context;
    expect(propagator.extract(context, { traceparent: `00-${TRACE}-${SPAN}-01` }, defaultTextMapGetter)).toBe(context);
    const out: Record<string, string> = {};
    propagator.inject(context, out, defaultTextMapSetter);
    expect(out).toEqual({});
  });

  it('refuses a maxTraceStateLength outside 512..8192, naming the option', () => {
    expect(() => new TraceContextPropagator({ maxTraceStateLength: 100 })).toThrow(/maxTraceStateLength: 100 \(expected: .*512 to 8192\)/);
    expect(() => new TraceContextPropagator({ maxTraceStateLength: 1.5e3 + 0.5 })).toThrow(RangeError);
    expect(new TraceContextPropagator({ maxTraceStateLength: 8192 }).fields()).toEqual(['traceparent', 'tracestate']);
  });
});

/** Header values built from pieces that exercise every rule, plus arbitrary strings. */
const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const traceparentArb = fc.oneof(
  fc.tuple(fc.constantFrom('00', '01', 'cc', 'fe', 'ff', '0', 'zz'), hex(32), hex(16), hex(2), fc.constantFrom('', '-x', '.x', ' ', '\t')).map(
    ([v, t, s, f, rest]) => `${v}-${t}-${s}-${f}${rest}`,
  ),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
);
const keyArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'abcz09_-*/@'), minLength: 1, maxLength: 12 }),
  fc.constantFrom('foo', 'bar', 'FOO', '@x', 'a.b', 'k '),
);
const valueArb = fc.oneof(fc.string({ unit: fc.constantFrom(...'abc 1=,!~\t'), maxLength: 12 }), fc.constantFrom('1', ' x', 'x ', ''));
const tracestateArb = fc.oneof(
  fc
    .tuple(fc.array(fc.tuple(keyArb, valueArb).map(([k, v]) => `${k}=${v}`), { maxLength: 40 }), fc.constantFrom(',', ' , ', ',\t', ',,'))
    .map(([members, separator]) => members.join(separator)),
  fc.string({ maxLength: 200 }),
);
const headerValue = (arb: fc.Arbitrary<string>) => fc.oneof(arb, fc.array(arb, { maxLength: 4 }));

describe('TraceContextPropagator properties', () => {
  it('extract never throws, whatever the headers', () => {
    fc.assert(
      fc.property(fc.option(headerValue(traceparentArb)), fc.option(headerValue(tracestateArb)), (tp, ts) => {
        const carrier: Record<string, unknown> = {};
        if (tp !== null) carrier.traceparent = tp;
        if (ts !== null) carrier.tracestate = ts;
        expect(() => propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });

  it('inject(extract(x)) is stable: a second hop sends exactly what the first sent', () => {
    fc.assert(
      fc.property(headerValue(traceparentArb), fc.option(headerValue(tracestateArb)), (tp, ts) => {
        const first = hop(ts === null ? { traceparent: tp } : { traceparent: tp, tracestate: ts });
        expect(hop(first)).toEqual(first);
        if (first.traceparent !== undefined) {
          // What is sent is always version 00 and always valid.
          expect(parseTraceParent(first.traceparent)).toMatchObject({ version: 0 });
          expect(first.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[0-3]$/);
        }
        if (first.tracestate !== undefined) {
          expect(first.tracestate.length).toBeLessThanOrEqual(512);
          expect(W3CTraceState.parse(first.tracestate)!.serialize()).toBe(first.tracestate);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('a valid list survives parse and serialize unchanged', () => {
    const member = fc.tuple(
      fc.string({ unit: fc.constantFrom(...'abz09_-*/@'), minLength: 0, maxLength: 10 }).map((k) => `k${k}`),
      fc.string({ unit: fc.constantFrom(...'abc !~.'), maxLength: 10 }).map((v) => `${v}x`),
    );
    fc.assert(
      fc.property(fc.uniqueArray(member, { maxLength: 32, selector: ([k]) => k }), (members) => {
        const text = members.map(([k, v]) => `${k}=${v}`).join(',');
        const parsed = W3CTraceState.parse(text, 8192);
        if (members.length === 0) expect(parsed).toBeUndefined();
        else expect(parsed!.serialize()).toBe(text);
      }),
    );
  });
});

describe('TraceContextPropagator: bounded work on hostile headers', () => {
  it('reads at most 64 tracestate fields of a huge array, and drops it', () => {
    let reads = 0;
    const fields = new Proxy(new Array<string>(1_000_000).fill('a=1'), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    expect(W3CTraceState.parse(fields)).toBeUndefined();
    expect(reads).toBe(0);
    const justOver = new Proxy(new Array<string>(MAX_TRACESTATE_FIELDS).fill('a'.repeat(1000)), {
      get(target, key, receiver) {
        if (typeof key === 'string' && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    // 64 fields of 1000 characters pass the count but not the 32 KiB bound: it stops reading there.
    expect(W3CTraceState.parse(justOver)).toBeUndefined();
    expect(reads).toBeLessThanOrEqual(33);
  });

  it('huge and pathological headers are dropped without blocking the event loop', async () => {
    const huge = 'a'.repeat(16 * 1024 * 1024);
    const near = (unit: string) => unit.repeat(Math.floor((32 * 1024) / unit.length));
    const cases: Array<Record<string, string>> = [
      { traceparent: huge },
      { traceparent: ` ${' '.repeat(1000)}00-${TRACE}-${SPAN}-01` },
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: huge },
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: near(',') },
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: near(' \t') },
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: near('a=') },
      { traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: near(`${'v'.repeat(255)} `) },
    ];
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    for (let round = 0; round < 20; round++) for (const carrier of cases) propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    await new Promise((resolve) => setTimeout(resolve, 25));
    histogram.disable();
    // 140 extracts of up to 16 MiB each: a generous bound (a second) that only a
    // super-linear or unbounded parse can break on a slow shared machine.
    expect(histogram.max / 1e6).toBeLessThan(1000);
    expect(hop({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: huge })).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01` });
  });
});
