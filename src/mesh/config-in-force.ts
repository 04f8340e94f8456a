/**
 * The config in force of a mesh: the inline resources, the files and config sources
 * that feed it, the compiled version now in force, and how a new version comes in (a
 * reload, `applyConfig`, a new trust domain): validated and compiled with everything
 * else, then swapped in at once, or refused with the last good version kept.
 *
 * @module
 */
import { compileConfig, type CompiledConfig } from '../compile/compile-config.js';
import type { MeshSecurity } from '../compile/mesh-security.js';
import { ConfigCache } from '../config/config-cache.js';
import { readConfigInputs, type ConfigInputs } from '../config/config-inputs.js';
import { FileConfigSource } from '../config/file-config-source.js';
import type { ConfigEntry } from '../config/load-config.js';
import type { ConfigSource } from '../config/types.js';
import type { ServiceNamer } from '../discovery/service-name.js';
import type { CompiledSecurity } from '../security/compile-security.js';
import type { ConfigRecord } from '../admin/mesh-view.js';
import type { MeshEvents } from './mesh-events.js';
import type { ResolvedMeshOptions } from './options.js';

/** One config version, validated and compiled: routing and policies, and the security resources for this workload. */
interface CompiledVersion {
  readonly compiled: CompiledConfig;
  readonly security: CompiledSecurity;
}

/** What the config in force needs from its mesh. */
export interface ConfigHost {
  /** The mesh's names of hosts. */
  readonly namer: ServiceNamer;
  /** The mesh's options that decide which resources apply and how they are read. */
  readonly options: Pick<ResolvedMeshOptions, 'config' | 'labels' | 'rootNamespace' | 'unknownFields'>;
  /** The workload's security state: each version's security resources compile and commit there. */
  readonly security: MeshSecurity;
  /**
   * A new version is in force (its security committed): the mesh hands its ServiceEntries
   * to discovery, every service its new policy, and forgets its cached routes.
   */
  swapIn(compiled: CompiledConfig): void;
  /** `applyConfig` refused a version (telemetry: file and source reloads are heard as `configError`). */
  rejectedByCall(source: string, error: unknown): void;
  /** Whether the mesh is closing or closed: a late reload then changes nothing. */
  closed(): boolean;
  /** Emits a mesh event safely (a listener that throws does not unwind into a source). */
  emit<K extends 'configApplied' | 'configError'>(event: K, ...args: MeshEvents[K]): void;
}

/** See the module comment. */
export class ConfigInForce {
  readonly #host: ConfigHost;
  /** The `config` option sorted: inline resources, files, sources. */
  readonly inputs: ConfigInputs;
  /** Inline resources in force: from createMesh, replaced by applyConfig. */
  #inline: readonly ConfigEntry[];
  /** The latest resources of each file or source, by source. */
  readonly #sourceEntries = new Map<ConfigSource, readonly ConfigEntry[]>();
  readonly #watches: Array<{ close(): void }> = [];
  /** What each resource validated and compiled to, so a reload redoes only what changed. */
  readonly #cache = new ConfigCache();
  #compiled: CompiledConfig;
  /** The last config version applied, and the last one rejected (for the admin page). */
  #lastApplied: ConfigRecord;
  #lastRejected: ConfigRecord | undefined;

  /**
   * Reads the `config` option (files are loaded now) and puts its first version in
   * force. Throws `InvalidConfigError` when it is invalid; nothing is watched yet.
   */
  constructor(host: ConfigHost) {
    this.#host = host;
    this.inputs = readConfigInputs(host.options.config);
    this.#inline = this.inputs.inline;
    for (const file of this.inputs.files) this.#sourceEntries.set(file, file.located);
    const first = this.#compile(this.entries());
    this.#compiled = first.compiled;
    host.security.commit(first.security);
    this.#cache.commit();
    this.#lastApplied = { source: 'createMesh', at: Date.now(), resources: first.compiled.resources, warnings: first.compiled.warnings };
  }

  /** The compiled config in force. */
  get compiled(): CompiledConfig {
    return this.#compiled;
  }

  /** The last version applied (`createMesh` first). */
  get lastApplied(): ConfigRecord {
    return this.#lastApplied;
  }

  /** The last version refused, if any (its message only: the resources stay out). */
  get lastRejected(): ConfigRecord | undefined {
    return this.#lastRejected;
  }

  /** Warnings of the config in force (fields not supported or not enforced yet, conflicts), security resources included. */
  get warnings(): readonly string[] {
    const security = this.#host.security.current.warnings;
    return security.length === 0 ? this.#compiled.warnings : [...this.#compiled.warnings, ...security];
  }

  /** The resources in force with their origins: inline ones first, then each file's and source's. */
  entries(): ConfigEntry[] {
    return [...this.#inline, ...this.#sourceEntriesFlat()];
  }

  /** Watches files and config sources; each change is validated with the rest and applied, or reported. */
  watch(): void {
    const all: ConfigSource[] = [...this.inputs.files, ...this.inputs.sources];
    for (const source of all) {
      const onError = (error: Error): void => this.#host.emit('configError', error, source.name);
      source.on('error', onError);
      // Closed by the mesh's constructor too if a later source's watch() throws (a closed source).
      this.#watches.push({ close: () => void source.off('error', onError) });
      const watch = source.watch((resources) => {
        if (this.#host.closed()) return; // a late reload of a closing mesh changes nothing
        const located = source instanceof FileConfigSource ? source.located : resources.map((resource, i) => ({ resource, origin: `${source.name}#${i + 1}` }));
        const previous = this.#sourceEntries.get(source);
        this.#sourceEntries.set(source, located);
        try {
          this.#apply(this.#compile(this.entries()), source.name);
        } catch (error) {
          // Keep the last good config: restore this source's previous resources.
          if (previous) this.#sourceEntries.set(source, previous);
          else this.#sourceEntries.delete(source);
          this.#rejected(source.name, error);
          this.#host.emit('configError', error as Error, source.name);
        }
      });
      this.#watches.push(watch);
    }
  }

  /** Stops listening to the files and sources (the sources close with their last holder: see `holdSource`). */
  stopWatching(): void {
    for (const watch of this.#watches) watch.close();
  }

  /** Closes the files the `config` option named: they are this mesh's own (one promise each). */
  closeFiles(): Promise<void>[] {
    return this.inputs.files.map((file) => file.close());
  }

  /**
   * `applyConfig`'s work: validates the new inline resources with the files' and
   * sources', and puts them in force. Throws `InvalidConfigError` and changes nothing
   * when the result is invalid.
   */
  applyInline(config: string | object | readonly (string | object)[]): void {
    let compiled: CompiledVersion;
    let inputs: ConfigInputs;
    try {
      inputs = readConfigInputs(Array.isArray(config) ? config : [config as string | object], { inlineOnly: true });
      compiled = this.#compile([...inputs.inline, ...this.#sourceEntriesFlat()]);
    } catch (error) {
      // A rejected version (proxyless.config.reloads.rejected, proxyless:config:rejected); the caller gets the error.
      this.#host.rejectedByCall('applyConfig', error);
      this.#rejected('applyConfig', error);
      throw error;
    }
    this.#apply(compiled, 'applyConfig');
    this.#inline = inputs.inline;
  }

  /**
   * Compiles the resources in force again and applies them (the workload's trust domain
   * changed, and principals are read in it); a failure is reported as `configError`.
   */
  recompile(source: string): void {
    try {
      this.#apply(this.#compile(this.entries()), source);
    } catch (error) {
      this.#host.emit('configError', error as Error, source);
    }
  }

  #sourceEntriesFlat(): ConfigEntry[] {
    return [...this.#sourceEntries.values()].flat();
  }

  /** Validates and compiles a config version: routing and policies, and the security resources for this workload. */
  #compile(entries: readonly ConfigEntry[]): CompiledVersion {
    const { namer, options, security } = this.#host;
    const client = { labels: options.labels, rootNamespace: options.rootNamespace };
    const compiled = compileConfig(entries, namer, client, this.#cache, { unknownFields: options.unknownFields });
    return { compiled, security: security.compile(compiled.config) };
  }

  /** Swaps a compiled config in: routes, ServiceEntries and every service's policy at once. */
  #apply({ compiled, security }: CompiledVersion, source: string): void {
    this.#compiled = compiled;
    this.#host.security.commit(security);
    this.#cache.commit();
    this.#host.swapIn(compiled);
    this.#lastApplied = { source, at: Date.now(), resources: compiled.resources, warnings: compiled.warnings };
    // Safely: a listener that throws must not look like an invalid config (it is in force now).
    this.#host.emit('configApplied', { source, resources: compiled.resources, warnings: this.warnings });
  }

  /** Remembers a rejected config version for the admin page (its message only: the resources stay out). */
  #rejected(source: string, error: unknown): void {
    this.#lastRejected = { source, at: Date.now(), resources: 0, warnings: [], error: error instanceof Error ? error.message : String(error) };
  }
}
