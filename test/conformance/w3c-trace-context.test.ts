// The W3C Trace Context test suite's cases (w3c/trace-context, test/test.py, as of its
// "Fix tracestate key grammar tests" revision), rewritten in our own words, run with the
// strict (Level 2) checks on and the Level 2 class included: the TraceContextTest,
// AdvancedTest and TraceContext2Test groups. Each case sends headers to a service that
// extracts them with our propagator, makes SDK spans, and calls back; the assertions are
// on the callbacks' headers, read as the suite's harness reads them.
//
// Every case runs three ways (see test/helpers/trace-context-service.ts): through real
// sockets with Node's joined `req.headers`, through real sockets with
// `req.headersDistinct`, and in memory on the raw header list (where no HTTP parser trims
// whitespace or joins duplicates first).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TraceContextPropagator } from 'proxyless';
import { memoryExchange, socketExchange, type Exchange, type RawHeaders } from '../helpers/trace-context-service.js';

const TRACE = '12345678901234567890123456789012';
const PARENT = '1234567890123456';
const TP = (flags: string): string => `00-${TRACE}-${PARENT}-${flags}`;

/** The callback's traceparent as the harness reads it: exactly one, well-formed. */
function traceparentOf(headers: RawHeaders): { traceId: string; parentId: string; flags: number } {
  const values = headers.filter(([name]) => name.toLowerCase() === 'traceparent').map(([, v]) => v);
  expect(values, 'exactly one traceparent header').toHaveLength(1);
  const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(values[0]!);
  expect(match, `a well-formed traceparent: ${values[0]}`).not.toBeNull();
  expect(match![1]).not.toBe('ff');
  return { traceId: match![2]!, parentId: match![3]!, flags: parseInt(match![4]!, 16) };
}

/** The callback's tracestate as the harness reads it: every field combined, each member valid, first of a key kept. */
function tracestateOf(headers: RawHeaders): { map: Map<string, string>; text: string } {
  const map = new Map<string, string>();
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== 'tracestate') continue;
    for (const member of value.split(/[ \t]*,[ \t]*/)) {
      if (member === '') continue;
      const m = /^([0-9a-z][_0-9a-z\-*/@]{0,255})=([\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e])$/.exec(member);
      expect(m, `a valid tracestate member: ${member}`).not.toBeNull();
      if (!map.has(m![1]!)) map.set(m![1]!, m![2]!);
    }
  }
  return { map, text: [...map].map(([k, v]) => `${k}=${v}`).join(',') };
}

/** The W3C cases, against one delivery. */
function suite(name: string, exchange: () => Exchange): void {
  const one = async (headers: RawHeaders) => {
    const [callback] = await exchange()(headers);
    return { tp: traceparentOf(callback!), ts: tracestateOf(callback!) };
  };
  const withParent = (...tracestate: string[]): RawHeaders => [['traceparent', TP('00')], ...tracestate.map((v) => ['tracestate', v] as const)];

  describe(`${name}: traceparent`, () => {
    it('neither header: a valid traceparent is sent', async () => {
      await one([]);
    });

    it('traceparent alone: the trace continues with a new parent id', async () => {
      const { tp } = await one([['traceparent', TP('01')]]);
      expect(tp.traceId).toBe(TRACE);
      expect(tp.parentId).not.toBe(PARENT);
    });

    it('two traceparent headers: the trace restarts', async () => {
      const { tp } = await one([
        ['traceparent', `00-12345678901234567890123456789011-${PARENT}-01`],
        ['traceparent', TP('01')],
      ]);
      expect(tp.traceId).not.toBe('12345678901234567890123456789011');
      expect(tp.traceId).not.toBe(TRACE);
    });

    it.each(['trace-parent', 'trace.parent'])('a misspelled header name (%s) is not read', async (header) => {
      const { tp } = await one([[header, TP('01')]]);
      expect(tp.traceId).not.toBe(TRACE);
    });

    it.each(['TraceParent', 'TrAcEpArEnT', 'TRACEPARENT'])('the header name in any case (%s) is read', async (header) => {
      const { tp } = await one([[header, TP('01')]]);
      expect(tp.traceId).toBe(TRACE);
    });

    it.each([
      ['version 00 with a trailing character', `${TP('01')}.`],
      ['version 00 with extra fields', `${TP('01')}-what-the-future-will-be-like`],
      ['version ff', `ff-${TRACE}-${PARENT}-01`],
      ['a version with an illegal first character', `.0-${TRACE}-${PARENT}-01`],
      ['a version with an illegal second character', `0.-${TRACE}-${PARENT}-01`],
      ['a three-digit version', `000-${TRACE}-${PARENT}-01`],
      ['a four-digit version', `0000-${TRACE}-${PARENT}-01`],
      ['a one-digit version', `0-${TRACE}-${PARENT}-01`],
      ['a trace id with an illegal first character', `00-.2345678901234567890123456789012-${PARENT}-01`],
      ['a trace id with an illegal last character', `00-1234567890123456789012345678901.-${PARENT}-01`],
      ['a 31-digit trace id', `00-1234567890123456789012345678901-${PARENT}-01`],
      ['an all-zero parent id', `00-${TRACE}-0000000000000000-01`],
      ['a parent id with an illegal first character', `00-${TRACE}-.234567890123456-01`],
      ['a parent id with an illegal last character', `00-${TRACE}-123456789012345.-01`],
      ['a 17-digit parent id', `00-${TRACE}-12345678901234567-01`],
      ['a 15-digit parent id', `00-${TRACE}-123456789012345-01`],
      ['flags with an illegal first character', `00-${TRACE}-${PARENT}-.0`],
      ['flags with an illegal second character', `00-${TRACE}-${PARENT}-0.`],
      ['three flag digits', `00-${TRACE}-${PARENT}-001`],
      ['one flag digit', `00-${TRACE}-${PARENT}-1`],
    ])('%s: the trace restarts', async (_, value) => {
      const { tp } = await one([['traceparent', value]]);
      expect(tp.traceId).not.toBe(TRACE);
    });

    it('an all-zero trace id: the trace restarts with a valid id', async () => {
      const { tp } = await one([['traceparent', `00-00000000000000000000000000000000-${PARENT}-01`]]);
      expect(tp.traceId).not.toBe('00000000000000000000000000000000');
    });

    it('a 33-digit trace id: the trace restarts, reusing neither 32-digit part', async () => {
      const { tp } = await one([['traceparent', `00-123456789012345678901234567890123-${PARENT}-01`]]);
      expect(tp.traceId).not.toBe('12345678901234567890123456789012');
      expect(tp.traceId).not.toBe('23456789012345678901234567890123');
    });

    it.each([
      ['plain', `cc-${TRACE}-${PARENT}-01`],
      ['with extra fields after a dash', `cc-${TRACE}-${PARENT}-01-what-the-future-will-be-like`],
    ])('a future version (cc), %s: the trace continues', async (_, value) => {
      const { tp } = await one([['traceparent', value]]);
      expect(tp.traceId).toBe(TRACE);
    });

    it('a future version (cc) with extra fields after a dot: the trace restarts', async () => {
      const { tp } = await one([['traceparent', `cc-${TRACE}-${PARENT}-01.what-the-future-will-be-like`]]);
      expect(tp.traceId).not.toBe(TRACE);
    });

    it.each([' ', '\t'].flatMap((ws) => [[`${ws}${TP('01')}`], [`${TP('01')}${ws}`]]).concat([[`\t ${TP('01')} \t`]]))(
      'optional whitespace around the value (%j) is ignored',
      async (value) => {
        const { tp } = await one([['traceparent', value]]);
        expect(tp.traceId).toBe(TRACE);
      },
    );
  });

  describe(`${name}: tracestate`, () => {
    it('tracestate without traceparent is discarded', async () => {
      const a = await one([['tracestate', 'foo=1']]);
      const b = await one([['tracestate', 'foo=1,bar=2']]);
      expect(a.ts.map.size).toBe(b.ts.map.size);
      expect(a.ts.map.has('foo')).toBe(false);
    });

    it('tracestate with traceparent is passed on', async () => {
      const { tp, ts } = await one(withParent('foo=1,bar=2'));
      expect(tp.traceId).toBe(TRACE);
      expect(ts.map.get('foo')).toBe('1');
      expect(ts.map.get('bar')).toBe('2');
    });

    it.each(['trace-state', 'trace.state'])('a misspelled header name (%s) is not read', async (header) => {
      const { ts } = await one([['traceparent', TP('00')], [header, 'foo=1']]);
      expect(ts.map.has('foo')).toBe(false);
    });

    it.each(['TraceState', 'TrAcEsTaTe', 'TRACESTATE'])('the header name in any case (%s) is read', async (header) => {
      const { ts } = await one([['traceparent', TP('00')], [header, 'foo=1']]);
      expect(ts.map.get('foo')).toBe('1');
    });

    it('an empty tracestate is accepted, alone or beside a non-empty one', async () => {
      const alone = await one(withParent(''));
      expect(alone.tp.traceId).toBe(TRACE);
      for (const headers of [withParent('foo=1', ''), withParent('', 'foo=1')]) {
        const { tp, ts } = await one(headers);
        expect(tp.traceId).toBe(TRACE);
        expect(ts.map.get('foo')).toBe('1');
      }
    });

    it('several tracestate headers are combined in order', async () => {
      const { tp, ts } = await one(withParent('foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'));
      expect(tp.traceId).toBe(TRACE);
      expect(ts.text).toBe('foo=1,bar=2,rojo=1,congo=2,baz=3');
    });

    it.each([
      [['foo=1,foo=1'], ['1']],
      [['foo=1,foo=2'], ['1', '2']],
      [['foo=1', 'foo=1'], ['1']],
      [['foo=1', 'foo=2'], ['1', '2']],
    ])('duplicated keys %j: the list is kept with one of them', async (fields, allowed) => {
      const { tp, ts } = await one(withParent(...fields));
      expect(tp.traceId).toBe(TRACE);
      expect(allowed).toContain(ts.map.get('foo'));
    });

    it('every allowed key and value character is passed on', async () => {
      const key = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
      const multiTenant = `${key}@a-z0-9_-*/`;
      let value = '';
      for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) value += String.fromCharCode(c);
      for (const k of [key, multiTenant]) {
        const { ts } = await one(withParent(`${k}=${value}`));
        expect(ts.map.get(k)).toBe(value);
      }
    });

    it.each(['foo=1 \t , \t bar=2, \t baz=3', 'foo=1\t \t,\t \tbar=2,\t \tbaz=3'])('whitespace between members (%j) is ignored', async (field) => {
      const { ts } = await one(withParent(field));
      expect(Object.fromEntries(ts.map)).toEqual({ foo: '1', bar: '2', baz: '3' });
    });

    it.each([' foo=1', '\tfoo=1', 'foo=1 ', 'foo=1\t', '\t foo=1 \t'])('whitespace around the list (%j) is ignored', async (field) => {
      const { tp, ts } = await one(withParent(field));
      expect(tp.traceId).toBe(TRACE);
      expect(ts.map.get('foo')).toBe('1');
    });

    it.each([
      ['foo =1', 'foo '],
      ['FOO=1', 'FOO'],
      ['foo.bar=1', 'foo.bar'],
    ])('an illegal key (%j) drops the list', async (field, key) => {
      const { ts } = await one(withParent(field));
      expect(ts.map.has(key)).toBe(false);
      expect(ts.map.size).toBe(0);
    });

    it.each(['foo@=1,bar=2', 'foo@@bar=1,bar=2', 'foo@bar@baz=1,bar=2'])('a key with at signs after its first character (%j) is passed on', async (field) => {
      const { ts } = await one(withParent(field));
      const first = field.slice(0, field.indexOf('='));
      expect(ts.map.get(first)).toBe('1');
      expect(ts.map.get('bar')).toBe('2');
    });

    it('a key starting with an at sign drops the list', async () => {
      const { ts } = await one(withParent('@foo=1,bar=2'));
      expect(ts.map.has('bar')).toBe(false);
    });

    it('32 members are passed on; 33 drop the list', async () => {
      const members = Array.from({ length: 33 }, (_, i) => `bar${String(i + 1).padStart(2, '0')}=${String(i + 1).padStart(2, '0')}`);
      const fields = (list: string[]) => [list.slice(0, 10), list.slice(10, 20), list.slice(20, 30), list.slice(30)].map((l) => l.join(','));
      const ok = await one(withParent(...fields(members.slice(0, 32))));
      expect(ok.ts.map.get('bar01')).toBe('01');
      expect(ok.ts.map.size).toBe(32);
      const tooMany = await one(withParent(...fields(members)));
      expect(tooMany.ts.map.has('bar01')).toBe(false);
    });

    it('a key of 256 characters is passed on; 257 drop the list', async () => {
      for (const key of ['z'.repeat(256), `${'t'.repeat(241)}@${'v'.repeat(14)}`, `${'t'.repeat(242)}@v`, `t@${'v'.repeat(15)}`]) {
        const { ts } = await one(withParent('foo=1', `${key}=1`));
        expect(ts.map.get('foo')).toBe('1');
        expect(ts.map.get(key)).toBe('1');
      }
      const { ts } = await one(withParent('foo=1', `${'z'.repeat(257)}=1`));
      expect(ts.map.has('foo')).toBe(false);
    });

    it.each([
      ['foo=bar=baz', ['foo']],
      ['foo=,bar=3', ['foo', 'bar']],
    ])('an illegal value (%j) drops the list', async (field, absent) => {
      const { ts } = await one(withParent(field));
      for (const key of absent) expect(ts.map.has(key)).toBe(false);
    });
  });

  describe(`${name}: several callbacks`, () => {
    const collect = async (headers: RawHeaders) => {
      const callbacks = await exchange()(headers, 3);
      const tps = callbacks.map((h) => traceparentOf(h));
      return { traceIds: new Set(tps.map((t) => t.traceId)), parentIds: new Set(tps.map((t) => t.parentId)) };
    };

    it('a valid traceparent: every callback continues the trace, each with its own parent id', async () => {
      const { traceIds, parentIds } = await collect([['traceparent', TP('01')]]);
      expect([...traceIds]).toEqual([TRACE]);
      expect(parentIds.size).toBe(3);
    });

    it('no traceparent: each callback has its own parent id', async () => {
      const { traceIds, parentIds } = await collect([]);
      expect(traceIds.size).toBe(1);
      expect(parentIds.size).toBe(3);
    });

    it('an illegal traceparent: new ids, each callback its own parent id', async () => {
      const { traceIds, parentIds } = await collect([['traceparent', `00-00000000000000000000000000000000-${PARENT}-01`]]);
      expect(traceIds.has('00000000000000000000000000000000')).toBe(false);
      expect(parentIds.size).toBe(3);
    });
  });

  describe(`${name}: Level 2`, () => {
    it('the random trace-id flag is passed on with the trace, under a new parent id', async () => {
      const { tp } = await one([['traceparent', TP('02')]]);
      expect(tp.traceId).toBe(TRACE);
      expect(tp.parentId).not.toBe(PARENT);
      expect(tp.flags & 0x02).toBe(0x02);
    });

    it('an unset random flag stays unset for the same trace', async () => {
      const { tp } = await one([['traceparent', TP('01')]]);
      expect(tp.flags & 0x02).toBe(0);
    });
  });
}

const propagator = new TraceContextPropagator();

suite('in memory', () => memoryExchange(propagator));

for (const read of ['headers', 'headersDistinct'] as const) {
  let exchange: Exchange;
  let close: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const started = await socketExchange(propagator, read);
    exchange = started.exchange;
    close = started.close;
  });
  afterAll(async () => close?.());
  suite(`sockets, req.${read}`, () => exchange);
}
