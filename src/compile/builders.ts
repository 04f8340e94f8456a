/**
 * Builders of mesh config from TypeScript: `virtualService({...})`,
 * `destinationRule({...})`, `serviceEntry({...})`. Each returns the Istio resource as a
 * cluster would hold it, our extensions' typed options written into their annotations
 * (the JSON is ours to write, not the caller's), and validates it at once with the
 * loader itself, so a builder throws the very `InvalidConfigError` that `createMesh`
 * would, and what it returns behaves as the same YAML does.
 *
 * @module
 */
import { InvalidConfigError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import { ServiceNamer } from '../discovery/service-name.js';
import { compileConfig } from './compile-config.js';
import { ANNOTATIONS } from '../config/extensions.js';
import type {
  DestinationRule,
  DestinationRuleInput,
  DurationInput,
  ServiceEntry,
  ServiceEntryInput,
  VirtualService,
  VirtualServiceInput,
} from '../config/from-code/types.js';

const API_VERSION = 'networking.istio.io/v1';

/** The duration fields of each extension, written as text in the annotation. */
const DURATIONS = {
  retryBudget: ['ttl'],
  circuitBreaker: ['rollingWindow', 'resetTimeout'],
  healthCheck: ['interval', 'timeout'],
  hedging: ['delay'],
  retryNonIdempotent: [],
} as const satisfies Record<string, readonly string[]>;

type Extension = keyof typeof DURATIONS;

const ANNOTATION_OF: Record<Extension, string> = {
  retryBudget: ANNOTATIONS.retryBudget,
  circuitBreaker: ANNOTATIONS.circuitBreaker,
  healthCheck: ANNOTATIONS.healthCheck,
  hedging: ANNOTATIONS.hedging,
  retryNonIdempotent: ANNOTATIONS.retryNonIdempotent,
};

/** A duration in ms as Go duration text (`1500` → `"1500ms"`); text is kept for the schema to check. */
function durationText(value: DurationInput, field: string, problems: string[]): unknown {
  if (typeof value !== 'number') return value;
  if (!Number.isFinite(value) || value < 0) {
    problems.push(`${field}: ${formatValue(value)} (expected: milliseconds, a finite number >= 0, or duration text such as "10s")`);
    return value;
  }
  return `${value}ms`;
}

/**
 * The resource with `apiVersion`/`kind` filled in and the extension options moved into
 * their annotations; problems with the options themselves (a duration that is not one,
 * an option given twice) are collected, the rest is left to the loader.
 */
function assemble(kind: string, input: Record<string, unknown>, extensions: readonly Extension[], problems: string[]): Record<string, unknown> {
  const { apiVersion, kind: givenKind, metadata, ...rest } = input;
  const where = `${kind}/${String((metadata as { name?: unknown } | undefined)?.name)}`;
  if (givenKind !== undefined && givenKind !== kind) problems.push(`${where}: kind: ${formatValue(givenKind)} (expected: "${kind}", or leave it out)`);
  const annotations: Record<string, unknown> = { ...((metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations ?? {}) };
  const resource: Record<string, unknown> = { apiVersion: apiVersion ?? API_VERSION, kind };
  for (const name of extensions) {
    const options = rest[name];
    delete rest[name];
    if (options === undefined) continue;
    const key = ANNOTATION_OF[name];
    if (annotations[key] !== undefined) {
      problems.push(`${where}: ${name}: given both as an option and as the annotation "${key}" (expected: one of them)`);
      continue;
    }
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      problems.push(`${where}: ${name}: ${formatValue(options)} (expected: an object of ${name} options)`);
      continue;
    }
    const json: Record<string, unknown> = { ...(options as Record<string, unknown>) };
    for (const field of DURATIONS[name]) {
      if (json[field] !== undefined) json[field] = durationText(json[field] as DurationInput, `${where}: ${name}.${field}`, problems);
    }
    annotations[key] = JSON.stringify(json);
  }
  resource.metadata = Object.keys(annotations).length > 0 ? { ...(metadata as object), annotations } : metadata;
  return Object.assign(resource, rest);
}

/** Validates and compiles `resource` alone, as `createMesh` would; throws the loader's error. */
function validate<T>(resource: Record<string, unknown>, origin: string, problems: readonly string[]): T {
  if (problems.length > 0) throw new InvalidConfigError(problems);
  // Unknown fields are errors here: from code, a field the schema lacks is a typo the
  // type checker would have caught (YAML keeps the loader's default, a warning).
  compileConfig([{ resource, origin }], new ServiceNamer('default', 'cluster.local'), {}, undefined, { unknownFields: 'error' });
  return resource as T;
}

/**
 * A VirtualService from TypeScript, validated at once. `hedging` and
 * `retryNonIdempotent` are our extensions, written into their annotations.
 *
 * ```ts
 * const reviews = virtualService({
 *   metadata: { name: 'reviews' },
 *   spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], retries: { attempts: 3 } }] },
 *   hedging: { delay: 50 },
 * });
 * createMesh({ config: [reviews] });
 * ```
 *
 * @throws {@link InvalidConfigError} naming each field, its value and what is expected
 */
export function virtualService(input: VirtualServiceInput): VirtualService {
  const problems: string[] = [];
  const resource = assemble('VirtualService', input as Record<string, unknown>, ['hedging', 'retryNonIdempotent'], problems);
  return validate<VirtualService>(resource, 'virtualService()', problems);
}

/**
 * A DestinationRule from TypeScript, validated at once. `retryBudget`,
 * `circuitBreaker` and `healthCheck` are our extensions, written into their annotations.
 *
 * ```ts
 * const reviews = destinationRule({
 *   metadata: { name: 'reviews' },
 *   spec: { host: 'reviews', trafficPolicy: { outlierDetection: { consecutive5xxErrors: 5 } } },
 *   circuitBreaker: { volumeThreshold: 20, resetTimeout: 30_000 },
 *   healthCheck: { path: '/healthz', interval: 5_000 },
 * });
 * ```
 *
 * @throws {@link InvalidConfigError} naming each field, its value and what is expected
 */
export function destinationRule(input: DestinationRuleInput): DestinationRule {
  const problems: string[] = [];
  const resource = assemble('DestinationRule', input as Record<string, unknown>, ['retryBudget', 'circuitBreaker', 'healthCheck'], problems);
  return validate<DestinationRule>(resource, 'destinationRule()', problems);
}

/**
 * A ServiceEntry from TypeScript, validated at once.
 *
 * ```ts
 * const payments = serviceEntry({
 *   metadata: { name: 'payments' },
 *   spec: { hosts: ['payments.example.com'], ports: [{ number: 443, name: 'https', protocol: 'HTTPS' }], resolution: 'DNS' },
 * });
 * ```
 *
 * @throws {@link InvalidConfigError} naming each field, its value and what is expected
 */
export function serviceEntry(input: ServiceEntryInput): ServiceEntry {
  const problems: string[] = [];
  const resource = assemble('ServiceEntry', input as Record<string, unknown>, [], problems);
  return validate<ServiceEntry>(resource, 'serviceEntry()', problems);
}
