/**
 * AuthorizationPolicy evaluation cost with 100 policies of mixed kinds.
 *
 * The policies apply to one workload: 10 DENY (namespaces, path prefixes, a header, an IP
 * block), 5 dry-run DENY and ALLOW (evaluated and reported on every request), 5 AUDIT and
 * 80 ALLOW, each ALLOW for its own service account with methods, paths (exact, prefix and
 * URI templates), hosts and a `when` on a header or a JWT claim. The requests are a mix:
 * allowed by an early ALLOW policy, allowed by the last one, denied by a DENY policy, and
 * denied because no ALLOW policy matches (the whole list evaluated: the worst case).
 *
 * Measured: `decide()` in batches of 1,000 requests of the mix; the figure is the median
 * per-request time over the batches. Baseline: the same requests against one ALLOW policy
 * (what evaluation costs when there is almost nothing to evaluate), in the same process,
 * alternated with the measured runs, so the ratio says what 100 policies add. CUSTOM
 * providers are left out: they are the application's own (async) code.
 */
import { compileAuthorization, type AuthorizationPolicyResource } from '../src/security/index.js';
import type { AuthzRequest } from '../src/security/request-view.js';
import { runIfMain } from './lib/entry.js';
import type { Log } from './lib/log.js';
import { loadavg } from 'node:os';
import { formatNumber, result, type BenchmarkOutput } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'authz';
const BATCH = 1000;
const ROUNDS = 10;
const BATCHES_PER_ROUND = scaled(200, 20);

export function policies(): AuthorizationPolicyResource[] {
  const out: AuthorizationPolicyResource[] = [];
  const meta = (name: string, annotations?: Record<string, string>) => ({ name, namespace: 'shop', ...(annotations && { annotations }) });
  for (let i = 0; i < 10; i++) {
    out.push({
      metadata: meta(`deny-${i}`),
      spec: {
        action: 'DENY',
        rules: [
          { from: [{ source: { namespaces: [`blocked-${i}`, `quarantine-${i}-*`] } }] },
          { to: [{ operation: { paths: [`/internal/${i}/*`], methods: ['DELETE', 'PUT'] } }], when: [{ key: 'request.headers[x-debug]', values: ['*'] }] },
          { from: [{ source: { ipBlocks: [`203.0.${i}.0/24`] } }] },
        ],
      },
    });
  }
  for (let i = 0; i < 5; i++) {
    out.push({ metadata: meta(`shadow-deny-${i}`, { 'istio.io/dry-run': 'true' }), spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: [`/beta/${i}/*`] } }] }] } });
  }
  for (let i = 0; i < 5; i++) {
    out.push({ metadata: meta(`audit-${i}`), spec: { action: 'AUDIT', rules: [{ to: [{ operation: { paths: [`/payments/${i}/*`] } }] }] } });
  }
  for (let i = 0; i < 80; i++) {
    out.push({
      metadata: meta(`allow-${String(i).padStart(2, '0')}`, i % 20 === 0 ? { 'istio.io/dry-run': 'false' } : undefined),
      spec: {
        rules: [
          {
            from: [{ source: { principals: [`cluster.local/ns/shop/sa/client-${i}`, `cluster.local/ns/ops/sa/admin-${i}`] } }],
            to: [{ operation: { methods: ['GET', 'HEAD'], paths: [`/api/v1/items-${i}`, `/api/v1/items-${i}/*`, `/api/v2/{*}/items-${i}`], hosts: ['shop.example.com', 'shop.example.com:*'] } }],
            when: [i % 2 === 0 ? { key: 'request.headers[x-tenant]', values: [`tenant-${i}`, 'shared'] } : { key: 'request.auth.claims[groups]', values: [`group-${i}`] }],
          },
          { from: [{ source: { serviceAccounts: [`batch-${i}`], notIpBlocks: ['10.99.0.0/16'] } }], to: [{ operation: { methods: ['POST'], paths: [`/jobs/${i}`] } }] },
        ],
      },
    });
  }
  return out;
}

function request(fields: { peer?: string; method?: string; path: string; tenant?: string; groups?: string[]; source?: string }): AuthzRequest {
  const headers: Record<string, string> = fields.tenant === undefined ? {} : { 'x-tenant': fields.tenant };
  return {
    method: fields.method ?? 'GET',
    path: fields.path,
    host: 'shop.example.com',
    destinationPort: 8080,
    destinationIp: '10.0.0.9',
    sourceIp: fields.source ?? '10.1.2.3',
    peerSpiffeId: fields.peer,
    sni: undefined,
    auth: fields.groups === undefined ? undefined : { principal: 'https://issuer/u', claims: { iss: 'https://issuer', sub: 'u', groups: fields.groups } },
    header: (name) => headers[name],
  };
}

const PEER = (sa: string): string => `spiffe://cluster.local/ns/shop/sa/${sa}`;

export const REQUESTS: readonly AuthzRequest[] = [
  request({ peer: PEER('client-0'), path: '/api/v1/items-0', tenant: 'tenant-0' }),
  request({ peer: PEER('client-79'), path: '/api/v1/items-79/42', groups: ['group-79'] }),
  request({ peer: PEER('client-40'), path: '/api/v2/eu/items-40', tenant: 'shared' }),
  request({ peer: PEER('batch-33'), method: 'POST', path: '/jobs/33' }),
  request({ peer: 'spiffe://cluster.local/ns/blocked-3/sa/x', path: '/api/v1/items-3' }),
  request({ peer: PEER('client-5'), path: '/beta/2/x', source: '203.0.7.9' }),
  request({ peer: PEER('stranger'), path: '/api/v1/items-12', tenant: 'tenant-12' }),
  request({ path: '/', tenant: 'shared' }),
];

function timeBatches(decide: (r: AuthzRequest) => unknown, batches: number): number[] {
  const perRequestUs: number[] = [];
  let sink = 0;
  for (let b = 0; b < batches; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) if (decide(REQUESTS[i % REQUESTS.length]!)) sink++;
    perRequestUs.push(Number(process.hrtime.bigint() - start) / 1000 / BATCH);
  }
  if (sink < 0) console.log(sink);
  return perRequestUs;
}

/** Runs the benchmark (see the file comment). */
export async function authz(log: Log): Promise<BenchmarkOutput> {
  const workload = { namespace: 'shop', labels: { app: 'shop' } };
  const full = compileAuthorization(policies(), { workload, onDryRun: () => undefined }).authorizer!;
  const one = compileAuthorization([{ metadata: { name: 'allow-all', namespace: 'shop' }, spec: { rules: [{ to: [{ operation: { methods: ['GET', 'POST'] } }] }] } }], { workload }).authorizer!;
  const decisions = REQUESTS.map((r) => full.decide(r));
  log(`requests: ${decisions.map((d) => (d.allowed ? `allowed (${d.policy ?? d.reason})` : `denied (${d.policy ?? d.reason})`)).join(', ')}`);
  const decideFull = (r: AuthzRequest): boolean => full.decide(r).allowed;
  const decideOne = (r: AuthzRequest): boolean => one.decide(r).allowed;
  timeBatches(decideFull, 200);
  timeBatches(decideOne, 200);
  const fullUs: number[] = [];
  const oneUs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [decideFull, decideOne] : [decideOne, decideFull];
    for (const fn of order) (fn === decideFull ? fullUs : oneUs).push(...timeBatches(fn, BATCHES_PER_ROUND));
  }
  const fullP50 = median(fullUs);
  const oneP50 = median(oneUs);
  const worst = REQUESTS[REQUESTS.length - 1]!;
  const worstUs = median(timeBatches(() => full.decide(worst).allowed, BATCHES_PER_ROUND));
  log(`100 policies: ${formatNumber(fullP50)} µs per request (p50 of batches); 1 policy: ${formatNumber(oneP50)} µs; no ALLOW match (all evaluated): ${formatNumber(worstUs)} µs`);
  return {
    results: [
      result({ benchmark: BENCHMARK, metric: 'decide(), 100 mixed policies, request mix, p50 per request (vs 1 policy)', unit: 'µs', mesh: fullP50, baseline: oneP50, target: { on: 'mesh', op: '<=', value: 2, unit: 'µs' } }),
      result({ benchmark: BENCHMARK, metric: 'decide(), 100 mixed policies, no ALLOW match: every policy evaluated (vs 1 policy)', unit: 'µs', mesh: worstUs, baseline: oneP50 }),
    ],
    notes: [
      `100 AuthorizationPolicies (10 DENY, 5 dry-run, 5 AUDIT, 80 ALLOW with principals, methods, paths, templates, hosts and a header or claim condition): ${formatNumber(fullP50)} µs per request for a mix of 8 requests, ${formatNumber(worstUs)} µs when no ALLOW policy matches`,
      'evaluation allocates nothing (test/unit/security/authz-allocation.test.ts); CUSTOM providers, async application code, are not in these figures',
      `load average when measured: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (the figure is absolute: on a loaded machine it is higher)`,
    ],
  };
}

runIfMain(import.meta.url, BENCHMARK, authz);
