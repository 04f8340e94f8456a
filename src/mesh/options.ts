import * as z from 'zod';
import { InvalidOptionError } from '../core/errors/index.js';
import { formatIssues } from '../core/validate.js';
import { checkEndpointTls, type EndpointTls } from './endpoint-tls.js';
import type { MeshOptions } from './types.js';
import type { PathNormalization } from '../route/normalize-path.js';
import type { IdentitySource } from '../tls/identity-source.js';
import { resolveAuthorizationOptions, type AuthorizationOptions, type ResolvedProvider } from '../security/authz-providers.js';
import { TELEMETRY_ALLOWED_KEYS, telemetryDefaults, telemetryOptionsSchema, type ResolvedTelemetryOptions } from '../telemetry/options.js';

const isSource = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as { watch?: unknown }).watch === 'function' &&
  typeof (v as { ready?: unknown }).ready === 'function';

const configItem = z.union(
  [
    z.string().min(1),
    z.custom<object>((v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
  ],
  { error: 'a file or directory path, YAML text, an Istio resource object, or a config source' },
);

const milliseconds = (max: number) =>
  z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'a number of milliseconds' : undefined) })
    .int({ error: 'a whole number of milliseconds' })
    .min(0)
    .max(max);

const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The default of `requestBufferLimit`: bytes of a streamed request body kept for replays. */
export const DEFAULT_REQUEST_BUFFER_LIMIT = 64 * 1024;
const MAX_REQUEST_BUFFER_LIMIT = 64 * 1024 * 1024;

/** The schema of {@link MeshOptions}; unknown keys are errors (they are usually typos). */
const meshOptionsSchema = z.strictObject({
  discovery: z
    .array(z.custom((v) => isSource(v), { error: 'a discovery source such as staticEndpoints({...})' }), {
      error: 'an array of discovery sources, e.g. [staticEndpoints({...})]',
    })
    .optional(),
  config: z
    .union([configItem, z.array(configItem)], {
      error: 'a file or directory path, YAML text, an Istio resource object, a config source, or an array of these',
    })
    .optional(),
  labels: z.record(z.string(), z.string({ error: 'a label value (string)' }), { error: 'an object of labels, e.g. { app: "reviews", version: "v1" }' }).optional(),
  namespace: z.string().regex(label, { error: 'a Kubernetes namespace name such as "default"' }).optional(),
  rootNamespace: z.string().regex(label, { error: 'a Kubernetes namespace name such as "istio-system"' }).optional(),
  locality: z
    .string()
    .max(256)
    .regex(/^[^/\s]*(\/[^/\s]*){0,2}$/, { error: 'a locality "region", "region/zone" or "region/zone/subzone" such as "us-east1/us-east1-b"' })
    .optional(),
  clusterDomain: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, { error: 'a DNS domain such as "cluster.local"' })
    .optional(),
  outboundTrafficPolicy: z.strictObject({ mode: z.enum(['ALLOW_ANY', 'REGISTRY_ONLY']) }).optional(),
  discoveryTimeout: milliseconds(3_600_000).optional(),
  discoveryStrategy: z.enum(['first', 'merge']).optional(),
  closeGracePeriod: milliseconds(3_600_000).optional(),
  maxServices: z.number({ error: 'a number of services' }).int({ error: 'a whole number of services' }).min(1).max(1_000_000).optional(),
  requestBufferLimit: z
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'a number of bytes' : undefined) })
    .int({ error: 'a whole number of bytes' })
    .min(0)
    .max(MAX_REQUEST_BUFFER_LIMIT, { error: `at most ${MAX_REQUEST_BUFFER_LIMIT} bytes (64 MiB): the copy is held in memory for each request in flight` })
    .optional(),
  endpointPool: z
    .strictObject({
      connections: z.number().int({ error: 'an integer' }).min(1).max(100_000).optional(),
      keepAliveTimeout: milliseconds(3_600_000).min(1).optional(),
      connectTimeout: milliseconds(3_600_000).min(1).optional(),
      // Checked by checkEndpointTls (PEM parsing, key/cert pairing, no key in messages).
      tls: z.unknown().optional(),
    })
    .optional(),
  pathNormalization: z.strictObject({ normalization: z.enum(['DEFAULT', 'NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES']) }).optional(),
  stacks: z
    .strictObject({
      service: z.custom((v) => typeof v === 'function', { error: 'a function (stack) => void' }).optional(),
      endpoint: z.custom((v) => typeof v === 'function', { error: 'a function (stack) => void' }).optional(),
    })
    .optional(),
  telemetry: telemetryOptionsSchema.optional(),
  unknownFields: z.enum(['warn', 'error'], { error: '"warn" (the default) or "error"' }).optional(),
  identity: z.custom((v) => isIdentitySource(v), { error: 'an identity source such as identityFromFiles({ dir }) or devIdentity({ caDir, spiffeId })' }).optional(),
  // Checked by resolveAuthorizationOptions (provider names, functions, timeouts).
  authorization: z.unknown().optional(),
});

const isIdentitySource = (v: unknown): boolean =>
  typeof v === 'object' && v !== null && typeof (v as { current?: unknown }).current === 'function' &&
  typeof (v as { ready?: unknown }).ready === 'function' && typeof (v as { on?: unknown }).on === 'function' &&
  typeof (v as { close?: unknown }).close === 'function';

const ALLOWED_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(meshOptionsSchema.shape),
  endpointPool: ['connections', 'keepAliveTimeout', 'connectTimeout', 'tls'],
  authorization: ['providers'],
  stacks: ['service', 'endpoint'],
  outboundTrafficPolicy: ['mode'],
  pathNormalization: ['normalization'],
  ...TELEMETRY_ALLOWED_KEYS,
};

/** Options with every default filled in. */
export interface ResolvedMeshOptions {
  readonly discovery: MeshOptions['discovery'] & object;
  readonly config: readonly (string | object)[];
  readonly labels: Readonly<Record<string, string>>;
  readonly unknownFields: 'warn' | 'error';
  readonly namespace: string;
  /** Istio's root namespace (MeshConfig `rootNamespace`). */
  readonly rootNamespace: string;
  /** This workload's locality (`region/zone/subzone`), when given. */
  readonly locality: string | undefined;
  readonly clusterDomain: string;
  readonly registryOnly: boolean;
  readonly discoveryTimeout: number;
  readonly mergeSources: boolean;
  readonly closeGracePeriod: number;
  readonly maxServices: number;
  readonly requestBufferLimit: number;
  readonly pool: {
    readonly connections: number;
    readonly keepAliveTimeout: number;
    readonly connectTimeout: number;
    /** TLS to the endpoints of https:// services (`endpointPool.tls`), checked. */
    readonly tls: EndpointTls | undefined;
  };
  readonly stacks: NonNullable<MeshOptions['stacks']>;
  /** Request path normalisation (Istio's `DEFAULT` is `BASE`). */
  readonly pathNormalization: PathNormalization;
  /** Telemetry settings (src/telemetry/options.ts); checked here, not yet used by the layers. */
  readonly telemetry: ResolvedTelemetryOptions;
  /** The workload's identity source, if any. */
  readonly identity: IdentitySource | undefined;
  /** CUSTOM authorization providers, resolved. */
  readonly authorization: ReadonlyMap<string, ResolvedProvider>;
}

/** Validates {@link MeshOptions} and fills in the defaults; throws {@link InvalidOptionError}. */
export function resolveMeshOptions(options: MeshOptions | undefined): ResolvedMeshOptions {
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidOptionError('createMesh', [`options: ${JSON.stringify(options)} (expected: an object)`]);
  }
  const result = meshOptionsSchema.safeParse(options ?? {}, { reportInput: true });
  const problems = result.success ? [] : formatIssues(result.error.issues, '', (path) => ALLOWED_KEYS[path.join('.')]);
  const pool = (options as { endpointPool?: unknown } | undefined)?.endpointPool;
  const tls = typeof pool === 'object' && pool !== null ? checkEndpointTls((pool as { tls?: unknown }).tls) : { tls: undefined, problems: [] };
  problems.push(...tls.problems);
  let authorization: ReadonlyMap<string, ResolvedProvider> = new Map();
  const authzInput = (options as { authorization?: unknown } | undefined)?.authorization;
  if (authzInput !== undefined) {
    if (authzInput !== null && typeof authzInput === 'object') {
      for (const key of Object.keys(authzInput)) if (key !== 'providers') problems.push(`authorization.${key}: unknown field (expected one of: providers)`);
    }
    try {
      authorization = resolveAuthorizationOptions(authzInput as AuthorizationOptions);
    } catch (error) {
      problems.push(...(error instanceof InvalidOptionError ? error.problems : [`authorization: ${(error as Error).message}`]));
    }
  }
  if (!result.success || problems.length > 0) throw new InvalidOptionError('createMesh', problems);
  const o = result.data as MeshOptions;
  return {
    discovery: o.discovery ?? [],
    config: o.config === undefined ? [] : Array.isArray(o.config) ? o.config : [o.config as string | object],
    labels: o.labels ?? {},
    unknownFields: o.unknownFields ?? 'warn',
    namespace: o.namespace ?? 'default',
    rootNamespace: o.rootNamespace ?? 'istio-system',
    locality: o.locality,
    clusterDomain: o.clusterDomain ?? 'cluster.local',
    registryOnly: o.outboundTrafficPolicy?.mode === 'REGISTRY_ONLY',
    discoveryTimeout: o.discoveryTimeout ?? 5000,
    mergeSources: o.discoveryStrategy === 'merge',
    closeGracePeriod: o.closeGracePeriod ?? 10_000,
    maxServices: o.maxServices ?? 1000,
    requestBufferLimit: o.requestBufferLimit ?? DEFAULT_REQUEST_BUFFER_LIMIT,
    pool: {
      connections: o.endpointPool?.connections ?? 100,
      keepAliveTimeout: o.endpointPool?.keepAliveTimeout ?? 4000,
      connectTimeout: o.endpointPool?.connectTimeout ?? 10_000,
      tls: tls.tls,
    },
    stacks: o.stacks ?? {},
    pathNormalization: o.pathNormalization === undefined || o.pathNormalization.normalization === 'DEFAULT' ? 'BASE' : o.pathNormalization.normalization,
    telemetry: telemetryDefaults(o.telemetry),
    identity: o.identity,
    authorization,
  };
}
