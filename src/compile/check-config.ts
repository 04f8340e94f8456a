import { InvalidConfigError, type ConfigDiagnostic } from '../core/errors/index.js';
import { ServiceNamer } from '../discovery/service-name.js';
import { compileConfig } from './compile-config.js';
import { readConfigInputs } from '../config/config-inputs.js';
import type { MeshConfig, SkippedResource } from '../config/load-config.js';
import { compileSecurityConfig } from './compile-security-config.js';
import { JwksCache } from '../security/jwks-source.js';
import type { UnknownFieldsMode } from '../config/validate-resource.js';

/** What {@link checkConfig} found. */
export interface ConfigCheck {
  /** Errors: the config would be refused. Empty when it is valid. */
  readonly errors: readonly ConfigDiagnostic[];
  /** Warnings, also when there are errors: fields not applied, unknown fields, what Istio warns about. */
  readonly warnings: readonly ConfigDiagnostic[];
  /** Notes: one per kind of resource skipped (not mesh config). */
  readonly notes: readonly ConfigDiagnostic[];
  /** The resources skipped, each (valid configs only). */
  readonly skipped: readonly SkippedResource[];
  /** How many resources were read (skipped ones included); 0 when the text did not parse. */
  readonly resources: number;
}

/** Options of {@link checkConfig}: the mesh's own, which change how config reads. */
export interface CheckConfigOptions {
  /** The namespace of resources without one (default `default`, as `istioctl validate`). */
  readonly namespace?: string;
  /** The cluster domain of short names (default `cluster.local`). */
  readonly clusterDomain?: string;
  /** This workload's labels (for `sourceLabels`). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Unknown fields: warnings (default) or errors (istioctl's behaviour, `proxyless check --strict`). */
  readonly unknownFields?: UnknownFieldsMode;
  /** Istio's root namespace (mesh-wide security policies). Default `istio-system`. */
  readonly rootNamespace?: string;
  /**
   * The CUSTOM authorization providers the code registers (`createMesh({ authorization })`).
   * Given: a CUSTOM policy naming another is an error, as at run time. Default: unknown
   * offline, so every name is accepted.
   */
  readonly providers?: readonly string[];
}

/**
 * The security resources compiled as the mesh compiles them for a workload with
 * `options.labels` in `options.namespace` (selectors, CUSTOM providers, JWT keys);
 * errors are thrown as the loader's, warnings returned.
 */
function checkSecurity(config: MeshConfig, options: CheckConfigOptions): ConfigDiagnostic[] {
  const named = options.providers ?? config.authorizationPolicies.map((p) => p.resource.spec?.provider?.name).filter((n): n is string => typeof n === 'string');
  const providers = new Map(named.map((name) => [name, { name, check: () => true, timeout: 1000, failOpen: false, statusOnError: 403 }]));
  const jwks = new JwksCache();
  try {
    const compiled = compileSecurityConfig(config, { workload: { namespace: options.namespace ?? 'default', labels: options.labels ?? {} }, rootNamespace: options.rootNamespace ?? 'istio-system', trustDomain: 'cluster.local', providers, jwks });
    return compiled.warnings.filter((f) => f.severity === 'warning');
  } finally {
    jwks.close();
  }
}

/**
 * Validates mesh config exactly as `createMesh` and `applyConfig` load it (the same
 * reading, validation and compilation), and returns every finding instead of throwing:
 * errors and warnings with their field paths, and notes about skipped resources.
 * Config sources (etcd, ...) cannot be checked here: they are reported as errors.
 *
 * @param config YAML text, a file or directory path, resource objects, or an array of these
 */
export function checkConfig(config: string | object | readonly (string | object)[], options: CheckConfigOptions = {}): ConfigCheck {
  const items = Array.isArray(config) ? (config as readonly (string | object)[]) : [config as string | object];
  const namer = new ServiceNamer(options.namespace ?? 'default', options.clusterDomain ?? 'cluster.local');
  let resources = 0;
  try {
    const inputs = readConfigInputs(items);
    if (inputs.sources.length > 0) {
      return { errors: [{ severity: 'error', where: '', path: '', message: 'config sources (etcd, ...) cannot be checked offline; check their content as text' }], warnings: [], notes: [], skipped: [], resources: 0 };
    }
    const entries = [...inputs.inline, ...inputs.files.flatMap((file) => file.located)];
    resources = entries.length;
    for (const file of inputs.files) void file.close();
    const compiled = compileConfig(entries, namer, options.labels ?? {}, undefined, { unknownFields: options.unknownFields ?? 'warn' });
    const security = checkSecurity(compiled.config, options);
    return {
      errors: [],
      warnings: [...compiled.diagnostics.filter((d) => d.severity === 'warning'), ...security],
      notes: compiled.diagnostics.filter((d) => d.severity === 'note'),
      skipped: compiled.config.skipped,
      resources,
    };
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    return {
      errors: error.diagnostics.filter((d) => d.severity === 'error'),
      warnings: error.diagnostics.filter((d) => d.severity === 'warning'),
      notes: error.diagnostics.filter((d) => d.severity === 'note'),
      skipped: [],
      resources,
    };
  }
}
