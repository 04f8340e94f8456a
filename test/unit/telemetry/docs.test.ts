// docs/telemetry.md lists what the code defines: every metric, channel, response flag,
// access-log field and Istio label. A name added or renamed in the code without the
// page fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHANNEL_NAMES } from 'proxyless';
import { ISTIO_LABELS, METRICS, RESPONSE_FLAGS, TELEMETRY_ALLOWED_KEYS } from 'proxyless/telemetry';

const page = readFileSync(new URL('../../../docs/telemetry.md', import.meta.url), 'utf8');
const ACCESS_LOG_FIELDS = [
  'start_time', 'method', 'path', 'protocol', 'response_code', 'response_flags', 'bytes_received', 'bytes_sent', 'duration',
  'upstream_host', 'upstream_cluster', 'authority', 'route_name', 'user_agent', 'request_id', 'attempts', 'trace_id', 'direction',
  'downstream_remote_address',
];

describe('docs/telemetry.md', () => {
  it.each([
    ['metric', Object.values(METRICS).map((m) => m.name)],
    ['channel', Object.values(CHANNEL_NAMES)],
    ['response flag', RESPONSE_FLAGS.map((f) => f.flag)],
    ['Istio label', [...ISTIO_LABELS]],
    ['access log field', ACCESS_LOG_FIELDS],
    ['option', Object.values(TELEMETRY_ALLOWED_KEYS).flat()],
  ])('names every %s', (_, names) => {
    const missing = names.filter((name) => !new RegExp(`(^|[^\\w.])${name.replace(/[.*]/g, '\\$&')}($|[^\\w.])`, 'm').test(page));
    expect(missing).toEqual([]);
  });

  it('gives each metric the unit the code gives it', () => {
    for (const m of Object.values(METRICS)) {
      // The metrics table's row (a span attribute can share a metric's name).
      const row = page
        .split('\n')
        .find((line) => line.startsWith(`| \`${m.name}\` |`) && ['counter', 'histogram', 'gauge'].includes(line.split('|')[2]!.trim()));
      expect(row, m.name).toBeDefined();
      expect(row!.split('|')[3]!.trim(), m.name).toBe(m.unit);
    }
  });
});
