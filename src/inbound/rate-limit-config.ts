import type { Located } from '../config/load-config.js';
import type { ResolvedTelemetryOptions } from '../telemetry/options.js';
import { localRateLimitSettings, type LocalRateLimitResource } from '../config/proxyless/local-rate-limit.js';
import { inboundLayer, type InboundHandler, type InboundLayer } from './inbound-stack.js';
import { rateLimitLayer } from './steps.js';

/**
 * What the inbound reads of the mesh's config.
 *
 * @internal
 */
export interface InboundConfigView {
  /** The mesh's namespace. */
  readonly namespace: string;
  /** This workload's labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** The mesh's resolved `telemetry` option (the inbound's default). */
  readonly telemetry: ResolvedTelemetryOptions;
  /** The `LocalRateLimit` resources in force, in load order. */
  readonly localRateLimits: readonly Located<LocalRateLimitResource>[];
}

/** A mesh whose config can carry `LocalRateLimit` resources. */
export interface RateLimitConfigMesh {
  /**
   * The config in force, for the inbound side.
   *
   * @internal
   */
  inboundConfig?(): InboundConfigView;
  /** Called after each config change. */
  on?(event: 'configApplied', listener: () => void): unknown;
}

/**
 * The `LocalRateLimit` that applies to this workload: in the mesh's namespace, the first
 * one whose `selector.matchLabels` all match the workload's labels, else the first one
 * without a selector (the oldest wins, as Istio decides between equals).
 */
export function selectLocalRateLimit(view: InboundConfigView): LocalRateLimitResource | undefined {
  let namespaceWide: LocalRateLimitResource | undefined;
  for (const { resource, namespace } of view.localRateLimits) {
    if (namespace !== view.namespace) continue;
    const selector = resource.spec.selector?.matchLabels;
    if (selector === undefined) {
      namespaceWide ??= resource;
      continue;
    }
    let matches = true;
    for (const key in selector) if (view.labels[key] !== selector[key]) matches = false;
    if (matches) return resource;
  }
  return namespaceWide;
}

/**
 * `rate-limit` from the mesh YAML: the selected `LocalRateLimit`, followed across config
 * reloads (a changed resource starts with full buckets; an unchanged one keeps them).
 */
export function rateLimitFromConfig(mesh: RateLimitConfigMesh, _where: string, report: (error: unknown) => void): InboundLayer {
  return inboundLayer('rate-limit', (next, target) => {
    if (typeof mesh.inboundConfig !== 'function') return next;
    let resource: LocalRateLimitResource | undefined;
    let step: InboundHandler = next;
    const refresh = (): void => {
      const chosen = selectLocalRateLimit(mesh.inboundConfig!());
      if (chosen === resource) return;
      resource = chosen;
      step = chosen === undefined ? next : rateLimitLayer(localRateLimitSettings(chosen)).wrap(next, target);
    };
    refresh();
    mesh.on?.('configApplied', () => {
      try {
        refresh();
      } catch (error) {
        report(error);
      }
    });
    return (x) => step(x);
  });
}
