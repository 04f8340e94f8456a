/**
 * The security resources of one config version compiled for one workload: the bridge
 * from the loader's validated resources (with the namespace each was loaded in) to
 * `compileSecurity`. The mesh (`MeshSecurity`) and `checkConfig` both compile through it,
 * so `proxyless check` finds what a mesh would.
 *
 * @module
 */
import type { Located, MeshConfig } from '../config/load-config.js';
import type { AuthorizerOptions } from '../security/authorizer.js';
import type { ResolvedProvider } from '../security/authz-providers.js';
import { compileSecurity, type CompiledSecurity } from '../security/compile-security.js';
import type { JwksCache } from '../security/jwks-source.js';
import type { SecurityMetadata, SecurityWorkload } from '../security/types.js';

/** How {@link compileSecurityConfig} compiles. */
export interface SecurityCompileSettings {
  /** The workload: its namespace and labels. */
  readonly workload: SecurityWorkload;
  /** Istio's root namespace. */
  readonly rootNamespace: string;
  /** The workload's trust domain. */
  readonly trustDomain: string;
  /** CUSTOM providers. */
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  /** Remote key sets, shared across versions. */
  readonly jwks: JwksCache;
  /** Receives dry-run results. */
  readonly onDryRun?: AuthorizerOptions['onDryRun'];
}

/** Resources with their namespace filled from where they were loaded. */
function withNamespaces<T extends { readonly metadata: SecurityMetadata }>(located: readonly Located<T>[]): T[] {
  return located.map(({ resource, namespace }) => (resource.metadata?.namespace !== undefined ? resource : { ...resource, metadata: { ...resource.metadata, namespace } }));
}

/** Compiles the security resources of `config` (throws `InvalidConfigError` with each error's field path). */
export function compileSecurityConfig(config: MeshConfig, settings: SecurityCompileSettings): CompiledSecurity {
  return compileSecurity(
    {
      peerAuthentications: withNamespaces(config.peerAuthentications),
      authorizationPolicies: withNamespaces(config.authorizationPolicies),
      requestAuthentications: withNamespaces(config.requestAuthentications),
    },
    {
      workload: settings.workload,
      rootNamespace: settings.rootNamespace,
      trustDomain: settings.trustDomain,
      authorization: settings.providers,
      jwks: settings.jwks,
      ...(settings.onDryRun !== undefined && { onDryRun: settings.onDryRun }),
    },
  );
}
