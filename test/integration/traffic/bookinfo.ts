import { request } from 'undici';
import type { Mesh } from 'proxyless';
import { startBackend, type Backend } from '../../helpers/backends.js';

/** reviews v1, v2, v3 (one replica each, labelled by version) and ratings: real servers. */
export interface Bookinfo {
  readonly v1: Backend;
  readonly v2: Backend;
  readonly v3: Backend;
  readonly ratings: Backend;
  readonly all: readonly Backend[];
  /** Endpoints for staticEndpoints: reviews with version labels, ratings. */
  readonly endpoints: Record<string, Array<string | { address: string; port: number; labels: Record<string, string> }>>;
}

export async function startBookinfo(): Promise<Bookinfo> {
  const [v1, v2, v3, ratings] = await Promise.all(['reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings'].map((id) => startBackend({ id })));
  const labelled = (b: Backend, version: string) => ({ address: '127.0.0.1', port: b.port, labels: { app: 'reviews', version } });
  return {
    v1: v1!,
    v2: v2!,
    v3: v3!,
    ratings: ratings!,
    all: [v1!, v2!, v3!, ratings!],
    endpoints: { reviews: [labelled(v1!, 'v1'), labelled(v2!, 'v2'), labelled(v3!, 'v3')], ratings: [ratings!.address] },
  };
}

/** The Istio bookinfo DestinationRule for reviews: subsets v1, v2, v3 by version label. */
export const reviewsSubsets = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels: { version: v1 }
  - name: v2
    labels: { version: v2 }
  - name: v3
    labels: { version: v3 }
`;

/** Sends `n` GETs (8 at a time) and counts answers by body. */
export async function countAnswers(mesh: Mesh, url: string, n: number, headers?: Record<string, string>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const res = await request(url, { dispatcher: mesh.dispatcher, headers });
      const body = await res.body.text();
      const key = res.statusCode === 200 ? body : `status ${res.statusCode}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return counts;
}

/** A VirtualService named reviews for host reviews, with `http` (YAML list items, indented 2) as its routes. */
export function reviewsVirtualService(http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
${http}`;
}

/** A VirtualService for reviews splitting by weights over subsets v1, v2, v3. */
export function weightedReviews(weights: [number, number, number]): string {
  return reviewsVirtualService(`  - route:
${weights.map((w, i) => `    - destination: { host: reviews, subset: v${i + 1} }\n      weight: ${w}`).join('\n')}
`);
}
