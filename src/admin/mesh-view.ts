import type { CompiledConfig } from '../config/compile-config.js';
import type { ConfigEntry } from '../config/load-config.js';
import type { MeshService } from '../mesh/mesh-service.js';

/** A config version applied or rejected, as `/config_dump` shows it. */
export interface ConfigRecord {
  /** Where it came from: a file or config source name, `applyConfig` or `createMesh`. */
  readonly source: string;
  /** When (epoch ms). */
  readonly at: number;
  /** How many resources it had (0 for a rejected one). */
  readonly resources: number;
  /** Its warnings. */
  readonly warnings: readonly string[];
  /** Why it was rejected (the error's message, naming documents and fields). */
  readonly error?: string;
}

/**
 * What the admin module reads from a mesh, through `mesh.adminView()`: nothing here is
 * copied on the request path; the admin reads it when asked (and once a second for the
 * dashboard).
 *
 * @internal
 */
export interface MeshAdminView {
  /** The services made so far. */
  services(): Iterable<MeshService>;
  /** The config resources in force, each with its origin (file, source key, inline). */
  entries(): readonly ConfigEntry[];
  /** The compiled config in force. */
  compiled(): CompiledConfig;
  /** The last version applied (the first is `createMesh`'s). */
  lastApplied(): ConfigRecord | undefined;
  /** The last version rejected, if any. */
  lastRejected(): ConfigRecord | undefined;
  /** The namespace of this workload. */
  readonly namespace: string;
  /** True once the mesh is closing. */
  closed(): boolean;
}
