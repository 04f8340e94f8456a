/**
 * The workload's security as the mesh holds it: its identity source (followed for
 * rotations and errors), the security resources compiled for it (`MeshSecurity`), the
 * connectors its outbound TLS uses (`ClientTls`), and what the inbound side and
 * `mesh.explainInbound` read of them.
 *
 * @module
 */
import { IdentityNotReadyError } from '../core/errors/index.js';
import { MeshSecurity } from '../compile/mesh-security.js';
import { pathSteps, type PathSteps } from '../route/normalize-path.js';
import type { IdentitySource } from '../tls/identity-source.js';
import type { SvidSummary, X509Svid } from '../tls/svid.js';
import { ClientTls } from './client-tls.js';
import { explainInbound, type InboundExplanation, type InboundRequestSpec } from './explain-inbound.js';
import type { MeshEvents, SecurityStats } from './mesh-events.js';
import type { ResolvedMeshOptions } from './options.js';

/** How security events reach the mesh's listeners (safely: a source's callbacks must not be unwound by a listener that throws). */
export type SecurityEmitter = <K extends 'authorizationDryRun' | 'identityRotated' | 'identityError'>(event: K, ...args: MeshEvents[K]) => void;

/** The mesh options the workload's security reads. */
export type SecurityOptions = Pick<ResolvedMeshOptions, 'namespace' | 'labels' | 'rootNamespace' | 'authorization' | 'identity' | 'pathNormalization'>;

/** See the module comment. */
export class WorkloadSecurity {
  /** The security resources of the config in force, compiled for this workload, and the identity. */
  readonly security: MeshSecurity;
  /** Connectors for DestinationRule tls modes and auto mTLS. */
  readonly clientTls: ClientTls;
  readonly #options: SecurityOptions;
  readonly #emit: SecurityEmitter;
  readonly #identityListeners: Array<() => void> = [];

  constructor(options: SecurityOptions, emit: SecurityEmitter) {
    this.#options = options;
    this.#emit = emit;
    this.clientTls = new ClientTls(options.identity);
    this.security = new MeshSecurity({
      namespace: options.namespace,
      labels: options.labels,
      rootNamespace: options.rootNamespace,
      providers: options.authorization,
      identity: options.identity,
      onDryRun: (result, req) => emit('authorizationDryRun', result, req),
    });
  }

  /**
   * Follows the identity source: rotations and errors become mesh events; a first SVID
   * (or one of another trust domain) calls `recompile`, since the security resources'
   * principals are read in the workload's trust domain.
   */
  watchIdentity(recompile: (source: string) => void): void {
    const identity = this.#options.identity;
    if (identity === undefined) return;
    let trustDomain = this.security.trustDomain;
    const onRotated = (svid: X509Svid): void => {
      if (svid.spiffeId.trustDomain !== trustDomain) {
        trustDomain = svid.spiffeId.trustDomain;
        recompile(`identity(${identity.name})`);
      }
      this.#emit('identityRotated', svid.toJSON());
    };
    const onError = (error: Error): void => this.#emit('identityError', error);
    identity.on('rotated', onRotated);
    identity.on('error', onError);
    this.#identityListeners.push(() => {
      identity.off('rotated', onRotated);
      identity.off('error', onError);
    });
  }

  /** See `Mesh.identity`. */
  identity(): SvidSummary | undefined {
    return this.#options.identity?.current()?.toJSON();
  }

  /** See `Mesh.identityReady`. */
  async identityReady(options: { readonly timeout?: number }): Promise<SvidSummary> {
    const identity = this.#options.identity;
    if (identity === undefined) throw new IdentityNotReadyError('(none)', 'createMesh({ identity }) was not given an identity source', undefined);
    return (await identity.ready(options)).toJSON();
  }

  /** The security state for the inbound side: identity source and compiled resources. */
  inboundSecurity(): { readonly identity: IdentitySource | undefined; readonly security: MeshSecurity; readonly pathSteps: PathSteps } {
    return { identity: this.#options.identity, security: this.security, pathSteps: pathSteps(this.#options.pathNormalization) };
  }

  /** See `Mesh.explainInbound`. */
  explainInbound(request: InboundRequestSpec): InboundExplanation {
    return explainInbound(this.security.current.compiled, request, pathSteps(this.#options.pathNormalization));
  }

  /** See `Mesh.securityStats`. */
  stats(): SecurityStats {
    return { dryRun: { ...this.security.dryRunCounters } };
  }

  /** Closes the identity source given to the mesh (its timers and file watches): it closes with the mesh. */
  closeIdentitySource(): Promise<void>[] {
    const identity = this.#options.identity;
    return identity === undefined ? [] : [identity.close()];
  }

  /** Stops following the identity source and closes the compiled state (the source itself closes with the mesh). */
  close(): void {
    for (const stop of this.#identityListeners) stop();
    this.security.close();
  }
}
