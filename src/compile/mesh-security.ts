/**
 * The security state of a mesh: Istio's security resources of the config in force,
 * compiled for this workload once per config version (PeerAuthentication modes, the
 * authorizer, the request authenticator), and the workload's identity. A config version
 * whose security resources do not compile is refused as a whole (the last good version
 * stays in force), like any invalid config.
 *
 * @module
 */
import { InvalidConfigError, renderDiagnostic } from '../core/errors/index.js';
import type { MeshConfig } from '../config/load-config.js';
import { compileSecurityConfig } from './compile-security-config.js';
import type { CompiledSecurity } from '../security/compile-security.js';
import type { DryRunCounters, DryRunResult } from '../security/authorizer.js';
import type { ResolvedProvider } from '../security/authz-providers.js';
import { JwksCache } from '../security/jwks-source.js';
import type { AuthzRequest } from '../security/request-view.js';
import type { IdentitySource } from '../tls/identity-source.js';

/** The trust domain policies are read in when the workload has no identity (Istio's default). */
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** What {@link MeshSecurity} needs to know about the workload. */
export interface MeshSecuritySettings {
  /** The workload's namespace. */
  readonly namespace: string;
  /** The workload's labels (PeerAuthentication and policy selectors match them). */
  readonly labels: Readonly<Record<string, string>>;
  /** Istio's root namespace. */
  readonly rootNamespace: string;
  /** CUSTOM providers. */
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  /** The identity source, if any: its trust domain is the mesh's. */
  readonly identity: IdentitySource | undefined;
  /** Told about each dry-run result (the mesh emits an event). */
  readonly onDryRun: (result: DryRunResult, req: AuthzRequest) => void;
}

/** One compiled version: the decisions and the version number (one per config version applied). */
export interface SecurityVersion {
  /** Increases with each config version applied. */
  readonly version: number;
  /** The compiled decisions. */
  readonly compiled: CompiledSecurity;
  /** The warnings of the security resources, one line each. */
  readonly warnings: readonly string[];
}


/** See the module comment. */
export class MeshSecurity {
  readonly #settings: MeshSecuritySettings;
  /** Remote key sets, shared across config versions (a reload keeps the keys fetched). */
  readonly #jwks = new JwksCache();
  #current: SecurityVersion | undefined;
  #nextVersion = 1;
  /** Dry-run counts over every config version so far. */
  readonly #dryRuns: DryRunCounters = { allowShadowAllowed: 0, allowShadowDenied: 0, denyShadowAllowed: 0, denyShadowDenied: 0 };
  readonly #listeners = new Set<(version: SecurityVersion) => void>();

  constructor(settings: MeshSecuritySettings) {
    this.#settings = settings;
  }

  /** The trust domain the workload lives in: its SVID's, else `cluster.local`. */
  get trustDomain(): string {
    return this.#settings.identity?.current()?.spiffeId.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  }

  /**
   * Compiles the security resources of `config` for this workload; does not put them in
   * force ({@link MeshSecurity.commit}). Throws {@link InvalidConfigError} naming each
   * resource and field in error (an unknown CUSTOM provider, unreadable keys).
   */
  compile(config: MeshConfig): CompiledSecurity {
    const counters = this.#dryRuns;
    const onDryRun = this.#settings.onDryRun;
    return compileSecurityConfig(config, {
      workload: { namespace: this.#settings.namespace, labels: this.#settings.labels },
      rootNamespace: this.#settings.rootNamespace,
      trustDomain: this.trustDomain,
      providers: this.#settings.providers,
      jwks: this.#jwks,
      onDryRun: (result, req) => {
        if (result.action === 'ALLOW') {
          if (result.wouldAllow) counters.allowShadowAllowed++;
          else counters.allowShadowDenied++;
        } else if (result.wouldAllow) counters.denyShadowAllowed++;
        else counters.denyShadowDenied++;
        onDryRun(result, req);
      },
    });
  }

  /** Puts a compiled version in force: new requests are decided by it; remote key sets no longer named are closed. */
  commit(compiled: CompiledSecurity): SecurityVersion {
    const version: SecurityVersion = { version: this.#nextVersion++, compiled, warnings: compiled.warnings.filter((f) => f.severity === 'warning').map(renderDiagnostic) };
    this.#current = version;
    this.#jwks.retain(compiled.remoteKeys);
    for (const listener of this.#listeners) listener(version);
    return version;
  }

  /** The version in force. */
  get current(): SecurityVersion {
    if (this.#current === undefined) throw new InvalidConfigError(['the security resources were never compiled']);
    return this.#current;
  }

  /** Dry-run results counted over every version (as Envoy's `istio_dry_run_*` counters). */
  get dryRunCounters(): Readonly<DryRunCounters> {
    return this.#dryRuns;
  }

  /** Calls `listener` with each version put in force; returns a function that stops it. */
  onChange(listener: (version: SecurityVersion) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Stops refreshing remote key sets. */
  close(): void {
    this.#listeners.clear();
    this.#jwks.close();
  }
}
