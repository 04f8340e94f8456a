import { compareByCreation, DEFAULT_ROOT_NAMESPACE, namespaceOf, selectorMatches, selectsWholeNamespace } from './policy-scope.js';
import type { MtlsMode, PeerAuthenticationMode, PeerAuthenticationResource, SecurityFinding, SecurityWorkload } from './types.js';

/**
 * PeerAuthentication composed for this workload, as Istio composes it for a sidecar
 * (istio/istio pilot/pkg/security/authn/policy_applier.go ComposePeerAuthentication,
 * pilot/pkg/model/authentication.go): one policy per scope, the oldest when several share
 * a scope, then
 *
 * 1. start at PERMISSIVE (no policy at all means PERMISSIVE);
 * 2. the mesh policy (root namespace, no selector or one without labels) replaces it
 *    unless its mode is UNSET;
 * 3. the namespace policy (the workload's namespace, no selector or one without labels)
 *    replaces that unless UNSET;
 * 4. the workload policy (the workload's namespace, a selector whose labels the workload
 *    has) replaces that unless UNSET;
 * 5. the workload policy's `portLevelMtls` entries replace the mode for their (server)
 *    port; an UNSET entry takes the mode of step 4.
 *
 * A root-namespace policy with a selector is ignored (Istio's code does so, whatever the
 * proto's field comment says).
 *
 * @module
 */

/** Which scope decided a port's mode. */
export type PeerAuthenticationSource = 'default' | 'mesh' | 'namespace' | 'workload' | 'port';

/** The PeerAuthentication chosen for each scope (`namespace/name`). */
export interface ChosenPeerAuthentications {
  /** The mesh policy. */
  readonly mesh?: string;
  /** The namespace policy. */
  readonly namespace?: string;
  /** The workload policy. */
  readonly workload?: string;
}

/** Why a port has its mode. */
export interface PeerAuthenticationExplanation {
  /** The port asked about. */
  readonly port: number;
  /** Its mode. */
  readonly mode: MtlsMode;
  /** The scope that set it (`default` when no policy set any mode). */
  readonly source: PeerAuthenticationSource;
  /** The policy that set it (`namespace/name`), when one did. */
  readonly policy?: string;
  /** The policy chosen for each scope (`namespace/name`), whether or not it set a mode. */
  readonly chosen: ChosenPeerAuthentications;
  /** In words: `STRICT on port 8080, from workload policy foo/strict-api (portLevelMtls)`. */
  readonly text: string;
}

/** The composed PeerAuthentication of one workload: a port's mTLS mode. */
export interface PeerAuthenticationDecision {
  /** The mode of a server port (the port the workload listens on, not a Service port). */
  mode(port: number): MtlsMode;
  /** The mode of ports without a port-level setting. */
  readonly defaultMode: MtlsMode;
  /** The port-level modes of the workload policy. */
  readonly portModes: ReadonlyMap<number, MtlsMode>;
  /** Why `port` has its mode. */
  explain(port: number): PeerAuthenticationExplanation;
}

/** Options of {@link resolvePeerAuthentication}. */
export interface ResolvePeerAuthenticationOptions {
  /** Istio's root namespace (mesh-wide policies). Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Receives remarks (ignored policies and why). */
  readonly onFinding?: (finding: SecurityFinding) => void;
}

interface Chosen {
  readonly resource: PeerAuthenticationResource;
  readonly id: string;
}

function setMode(mode: PeerAuthenticationMode | undefined): MtlsMode | undefined {
  return mode === undefined || mode === 'UNSET' ? undefined : mode;
}

/**
 * Composes the PeerAuthentications that apply to `workload` (see the module comment) into
 * the mode of each of its ports.
 */
export function resolvePeerAuthentication(
  resources: readonly PeerAuthenticationResource[],
  workload: SecurityWorkload,
  options: ResolvePeerAuthenticationOptions = {},
): PeerAuthenticationDecision {
  const root = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  let mesh: Chosen | undefined;
  let namespace: Chosen | undefined;
  let workloadPolicy: Chosen | undefined;
  const older = (candidate: Chosen, current: Chosen | undefined): boolean => {
    if (current === undefined) return true;
    const ns = (c: Chosen): string => namespaceOf(c.resource.metadata, workload);
    return compareByCreation(candidate.resource.metadata, ns(candidate), current.resource.metadata, ns(current)) < 0;
  };
  for (const resource of resources) {
    const ns = namespaceOf(resource.metadata, workload);
    const candidate: Chosen = { resource, id: `${ns}/${resource.metadata.name}` };
    const wholeNamespace = selectsWholeNamespace(resource.spec.selector);
    let displaced: Chosen | undefined;
    if (ns === root && wholeNamespace) {
      if (older(candidate, mesh)) [displaced, mesh] = [mesh, candidate];
      else displaced = candidate;
    } else if (ns === root) {
      options.onFinding?.({ severity: 'warning', where: `PeerAuthentication/${candidate.id}`, path: 'spec.selector', message: `a PeerAuthentication with a selector in the root namespace (${root}) is ignored, as Istio ignores it; put it in the workload's namespace` });
    } else if (ns !== workload.namespace) {
      continue;
    } else if (wholeNamespace) {
      if (older(candidate, namespace)) [displaced, namespace] = [namespace, candidate];
      else displaced = candidate;
    } else if (selectorMatches(resource.spec.selector, workload.labels)) {
      if (older(candidate, workloadPolicy)) [displaced, workloadPolicy] = [workloadPolicy, candidate];
      else displaced = candidate;
    }
    if (displaced !== undefined) {
      options.onFinding?.({ severity: 'warning', where: `PeerAuthentication/${displaced.id}`, path: '', message: 'another PeerAuthentication of the same scope is older and applies instead (Istio applies the oldest)' });
    }
  }

  let mode: MtlsMode = 'PERMISSIVE';
  let source: PeerAuthenticationSource = 'default';
  let setBy: Chosen | undefined;
  for (const [scope, chosen] of [['mesh', mesh], ['namespace', namespace], ['workload', workloadPolicy]] as const) {
    const set = setMode(chosen?.resource.spec.mtls?.mode);
    if (set !== undefined) [mode, source, setBy] = [set, scope, chosen];
  }
  const portModes = new Map<number, MtlsMode>();
  for (const [key, value] of Object.entries(workloadPolicy?.resource.spec.portLevelMtls ?? {})) {
    const port = Number(key);
    // Validation refuses other keys; a key that slipped through can never name a port.
    if (!Number.isInteger(port) || port < 1 || port > 65535) continue;
    portModes.set(port, setMode(value.mode) ?? mode);
  }
  const chosen = { ...(mesh && { mesh: mesh.id }), ...(namespace && { namespace: namespace.id }), ...(workloadPolicy && { workload: workloadPolicy.id }) };
  const defaultMode = mode;
  return {
    defaultMode,
    portModes,
    mode: (port) => portModes.get(port) ?? defaultMode,
    explain(port) {
      const portMode = portModes.get(port);
      if (portMode !== undefined) {
        const entry = workloadPolicy!.resource.spec.portLevelMtls![String(port)];
        const inherited = setMode(entry?.mode) === undefined;
        const text = `${portMode} on port ${port}, from workload policy ${workloadPolicy!.id} (portLevelMtls${inherited ? ' UNSET: the workload mode' : ''})`;
        return { port, mode: portMode, source: 'port', policy: workloadPolicy!.id, chosen, text };
      }
      const text = setBy === undefined ? `${defaultMode} on port ${port}: no PeerAuthentication sets a mode (Istio's default)` : `${defaultMode} on port ${port}, from ${source} policy ${setBy.id}`;
      return { port, mode: defaultMode, source, ...(setBy && { policy: setBy.id }), chosen, text };
    },
  };
}
