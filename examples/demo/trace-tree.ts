// The drain phase's traced request, shown as the tree of its spans: which span is whose
// child across the hops (caller → orders replica → inventory), with each span's kind,
// where it ran and how long it took. The spans come from the OpenTelemetry SDK the phase
// registers (a span processor that keeps only the traces it is told about).
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';

/** Keeps only the spans of the traces it was told about (the demo traces one request). */
export class WatchedTraces implements SpanProcessor {
  readonly watched = new Set<string>();
  readonly spans: ReadableSpan[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    if (this.watched.has(span.spanContext().traceId)) this.spans.push(span);
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /**
   * The ended spans of `traceId`, once at least `atLeast` ended and no more came for a
   * few ticks (a SERVER span ends as its response closes, just after the caller got the
   * answer), or after about a second.
   */
  async of(traceId: string, atLeast: number): Promise<ReadableSpan[]> {
    const mine = (): ReadableSpan[] => this.spans.filter((s) => s.spanContext().traceId === traceId);
    let seen = -1;
    for (let i = 0; i < 200; i++) {
      const n = mine().length;
      if (n >= atLeast && n === seen) break;
      seen = n;
      await sleep(5);
    }
    return mine();
  }
}

const KIND = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/** Where a span ran: the `demo.replica` attribute a handler set on its SERVER span, else where its parent ran. */
function placeOf(span: ReadableSpan, parentPlace: string): string {
  const replica = span.attributes['demo.replica'];
  return typeof replica === 'string' ? replica : parentPlace;
}

function millis(span: ReadableSpan): string {
  const [s, ns] = span.duration;
  return `${(s * 1000 + ns / 1e6).toFixed(1)} ms`;
}

/** How the trace joined: every span but the root has its parent in the trace. */
export interface TraceTree {
  readonly lines: string[];
  /** Spans whose parent is in the trace, and all of them. */
  readonly joined: number;
  readonly spans: number;
  /** The deepest chain of parent → child, in spans. */
  readonly depth: number;
}

/**
 * The spans as a tree, roots first, children in start order, each with its kind, the
 * process it ran in and its duration:
 *
 *     demo caller                INTERNAL  demo         4.1 ms
 *     └─ mesh GET                INTERNAL  demo         4.0 ms
 *        └─ GET                  CLIENT    demo         3.8 ms
 *           └─ GET /orders/:id   SERVER    orders-2     3.0 ms
 */
export function traceTree(spans: readonly ReadableSpan[]): TraceTree {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const children = new Map<string, ReadableSpan[]>();
  const roots: ReadableSpan[] = [];
  let joined = 0;
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    if (parent !== undefined && byId.has(parent)) {
      joined++;
      const list = children.get(parent) ?? [];
      list.push(span);
      children.set(parent, list);
    } else roots.push(span);
  }
  const start = (s: ReadableSpan): number => s.startTime[0] * 1e9 + s.startTime[1];
  const rows: Array<[string, ReadableSpan, string]> = [];
  let depth = 0;
  const walk = (span: ReadableSpan, prefix: string, branch: string, level: number, parentPlace: string): void => {
    depth = Math.max(depth, level);
    const place = placeOf(span, parentPlace);
    rows.push([`${prefix}${branch}${span.name}`, span, place]);
    const kids = [...(children.get(span.spanContext().spanId) ?? [])].sort((a, b) => start(a) - start(b));
    const inner = prefix + (branch === '' ? '' : branch === '└─ ' ? '   ' : '│  ');
    kids.forEach((kid, i) => walk(kid, inner, i === kids.length - 1 ? '└─ ' : '├─ ', level + 1, place));
  };
  for (const root of [...roots].sort((a, b) => start(a) - start(b))) walk(root, '', '', 1, 'demo');
  const width = Math.max(...rows.map(([label]) => label.length), 10) + 2;
  const lines = rows.map(([label, span, place]) => `${label.padEnd(width)}${(KIND[span.kind] ?? '?').padEnd(10)}${place.padEnd(13)}${millis(span)}`);
  return { lines, joined, spans: spans.length, depth };
}
