/**
 * The mesh's metrics on a Prometheus endpoint, through @opentelemetry/exporter-prometheus.
 *
 *   npm run example:prometheus                         # http://127.0.0.1:9464/metrics
 *   METRICS_PORT=9500 METRIC_NAMES=both npm run example:prometheus
 *
 * It starts two `reviews` replicas on loopback (v2 answers 503 one time in five), sends a
 * steady trickle of calls through a mesh with a retrying VirtualService, and serves the
 * OpenTelemetry metrics in Prometheus' format until Ctrl-C. `METRIC_NAMES`: `otel`
 * (default), `istio` (Istio's `istio_requests_total` and
 * `istio_request_duration_milliseconds`, `reporter="source"`, what Istio's Grafana
 * dashboards and Kiali read) or `both`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createMesh, staticEndpoints } from 'proxyless';

const port = Number(process.env.METRICS_PORT ?? 9464);
const metricNames = (process.env.METRIC_NAMES ?? 'otel') as 'otel' | 'istio' | 'both';

// The exporter is a metric reader that serves /metrics itself; its callback says when the
// server listens (or why it cannot: a port in use ends the example with that error).
let exporter!: PrometheusExporter;
await new Promise<void>((resolve, reject) => {
  exporter = new PrometheusExporter({ host: '127.0.0.1', port }, (error) => (error ? reject(error) : resolve()));
});
const meterProvider = new MeterProvider({ readers: [exporter] });
metrics.setGlobalMeterProvider(meterProvider);

async function replica(version: string, failEvery: number): Promise<Server> {
  let n = 0;
  const server = createServer((_req, res) => {
    res.statusCode = failEvery > 0 && ++n % failEvery === 0 ? 503 : 200;
    res.end(`reviews ${version}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const v1 = await replica('v1', 0);
const v2 = await replica('v2', 5);
const endpoint = (server: Server, version: string) => ({
  address: '127.0.0.1',
  port: (server.address() as AddressInfo).port,
  // `workload` names the replica's workload on Istio's destination_workload label.
  labels: { app: 'reviews', version, workload: `reviews-${version}` },
});

const mesh = createMesh({
  discovery: [staticEndpoints({ reviews: [endpoint(v1, 'v1'), endpoint(v2, 'v2')] })],
  config: `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - name: default
    route: [{ destination: { host: reviews } }]
    retries: { attempts: 2, retryOn: 5xx }
`,
  telemetry: { metricNames, workload: { name: 'productpage-v1', namespace: 'bookinfo' } },
});

console.log(`metrics: http://127.0.0.1:${port}/metrics (names: ${metricNames})`);

let running = true;
const stop = (): void => {
  running = false;
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

let calls = 0;
while (running) {
  const res = await mesh.fetch(`http://reviews/reviews/${calls % 10}`);
  await res.arrayBuffer();
  if (++calls % 100 === 0) console.log(`${calls} calls`);
  await new Promise((resolve) => setTimeout(resolve, 10));
}

await mesh.close();
await meterProvider.shutdown();
v1.close();
v2.close();
console.log('stopped');
