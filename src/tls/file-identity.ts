/**
 * `identityFromFiles`: an SVID read from PEM files that another program keeps fresh
 * (istio-agent, cert-manager's csi-driver-spiffe, SPIRE's spiffe-helper, `proxyless certs
 * issue` in a cron job), watched so a new pair is used without a restart.
 *
 * @module
 */
import { resolve } from 'node:path';
import { InvalidOptionError } from '../core/errors/index.js';
import { FileWatcher, readSnapshotSync, snapshotKey, type FileSnapshot, type SnapshotVerdict } from '../core/file-watcher.js';
import { SVID_FILES } from './dev-ca.js';
import { BaseIdentitySource } from './identity-source.js';
import { loadSvid } from './svid.js';

/** Options of {@link identityFromFiles}. */
export type FileIdentityOptions = (
  | {
      /** A directory in istio-agent's layout: `cert-chain.pem`, `key.pem`, `root-cert.pem`. */
      readonly dir: string;
    }
  | {
      /** The certificate chain file (leaf first). */
      readonly certChain: string;
      /** The private key file. */
      readonly key: string;
      /** The trust bundle file (root certificates). */
      readonly roots: string;
    }
) & {
  /** The roots' trust domain; default: the one the roots name, else the SVID's own. */
  readonly trustDomain?: string;
  /** Quiet time after a change before reading, ms (default 100). */
  readonly debounce?: number;
  /**
   * How long a pair that does not load must stay unchanged before it is reported as an
   * error, ms (default 1000): a writer replacing the files one by one is waited for.
   */
  readonly settle?: number;
  /** How often a missing directory is looked for, ms (default 1000). */
  readonly retryInterval?: number;
};

type Part = 'certChain' | 'key' | 'roots';

/** The most bytes read from the SVID files together: far above any chain, key and bundle. */
const MAX_SVID_FILES_BYTES = 1024 * 1024;

/** A watched pair of SVID files; see {@link identityFromFiles}. */
export class FileIdentitySource extends BaseIdentitySource {
  /** See {@link IdentitySource.name}. */
  readonly name: string;
  readonly #paths: Readonly<Record<Part, string>>;
  readonly #trustDomain: string | undefined;
  readonly #watchers: FileWatcher[] = [];
  /** The latest stable text of each part, as the watchers delivered it. */
  readonly #texts: Record<Part, string | undefined> = { certChain: undefined, key: undefined, roots: undefined };
  /** Why a part could not be read (too large, permissions), when that is the reason it is absent. */
  readonly #unreadable = new Map<Part, string>();
  /** The texts of the SVID in use, so an unchanged pair is not published again. */
  #loadedKey: string | undefined;

  /** @param options see {@link FileIdentityOptions} */
  constructor(options: FileIdentityOptions) {
    super();
    const { debounce = 100, settle = 1000, retryInterval = 1000 } = options;
    const problems: string[] = [];
    const known = new Set(['dir', 'certChain', 'key', 'roots', 'trustDomain', 'debounce', 'settle', 'retryInterval']);
    for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`${key}: unknown field (expected one of: ${[...known].join(', ')})`);
    const explicit = 'certChain' in options || 'key' in options || 'roots' in options;
    if ('dir' in options && explicit) problems.push('dir: given with certChain/key/roots (expected: either dir, or all three files)');
    if (!('dir' in options)) {
      for (const part of ['certChain', 'key', 'roots'] as const) {
        const value = (options as Record<string, unknown>)[part];
        if (typeof value !== 'string' || value === '') problems.push(`${part}: ${JSON.stringify(value)} (expected: a file path)`);
      }
    } else if (typeof options.dir !== 'string' || options.dir === '') problems.push(`dir: ${JSON.stringify(options.dir)} (expected: a directory path)`);
    for (const [field, value, max] of [['debounce', debounce, 60_000], ['settle', settle, 600_000], ['retryInterval', retryInterval, 3_600_000]] as const) {
      if (!Number.isInteger(value) || value < (field === 'retryInterval' ? 10 : 0) || value > max) {
        problems.push(`${field}: ${JSON.stringify(value)} (expected: a whole number of milliseconds up to ${max})`);
      }
    }
    if (problems.length > 0) throw new InvalidOptionError('identityFromFiles', problems);
    this.#trustDomain = options.trustDomain;
    if ('dir' in options) {
      const dir = resolve(options.dir);
      this.name = `files(${dir})`;
      this.#paths = { certChain: `${dir}/${SVID_FILES.certChain}`, key: `${dir}/${SVID_FILES.key}`, roots: `${dir}/${SVID_FILES.roots}` };
      const names = new Set<string>(Object.values(SVID_FILES));
      const include = (name: string): boolean => names.has(name);
      // One watcher on the directory sees the three files together: a Kubernetes secret
      // volume swaps them all at once (its ..data symlink), which this reads as one version.
      const first = readSnapshotSync(dir, include, MAX_SVID_FILES_BYTES);
      this.#take(first);
      this.#watchers.push(this.#watch(dir, (snapshot) => this.#take(snapshot), snapshotKey(first), { debounce, settle, retryInterval, include }));
    } else {
      this.#paths = { certChain: resolve(options.certChain), key: resolve(options.key), roots: resolve(options.roots) };
      this.name = `files(${this.#paths.certChain})`;
      for (const part of ['certChain', 'key', 'roots'] as const) {
        const first = readSnapshotSync(this.#paths[part], undefined, MAX_SVID_FILES_BYTES);
        this.#takeFile(part, first);
        this.#watchers.push(this.#watch(this.#paths[part], (snapshot) => this.#takeFile(part, snapshot), snapshotKey(first), { debounce, settle, retryInterval }));
      }
    }
    // The first load is synchronous, so current() answers at once when the files are good.
    const error = this.#load();
    if (error) this.reportError(error);
    for (const watcher of this.#watchers) watcher.start();
  }

  #watch(
    path: string,
    take: (snapshot: FileSnapshot) => void,
    known: string,
    options: { debounce: number; settle: number; retryInterval: number; include?: (name: string) => boolean },
  ): FileWatcher {
    return new FileWatcher(
      {
        path,
        debounce: options.debounce,
        settle: options.settle,
        recheckInterval: options.retryInterval,
        known,
        maxBytes: MAX_SVID_FILES_BYTES,
        ...(options.include ? { include: options.include } : {}),
      },
      {
        change: (snapshot, confirmed) => {
          take(snapshot);
          return this.#onChange(confirmed);
        },
        error: (error) => this.reportError(new Error(`${this.name}: cannot watch ${path}: ${error.message}`, { cause: error })),
      },
    );
  }

  #take(snapshot: FileSnapshot): void {
    this.#unreadable.clear();
    if (snapshot.kind === 'unreadable') for (const part of ['certChain', 'key', 'roots'] as const) this.#unreadable.set(part, snapshot.error.message);
    const files = snapshot.kind === 'directory' ? snapshot.files : new Map<string, string>();
    this.#texts.certChain = files.get(SVID_FILES.certChain);
    this.#texts.key = files.get(SVID_FILES.key);
    this.#texts.roots = files.get(SVID_FILES.roots);
  }

  #takeFile(part: Part, snapshot: FileSnapshot): void {
    this.#texts[part] = snapshot.kind === 'file' ? snapshot.text : undefined;
    if (snapshot.kind === 'unreadable') this.#unreadable.set(part, snapshot.error.message);
    else this.#unreadable.delete(part);
  }

  /**
   * A new version of some file. A pair that loads is published; one that does not is
   * suspect (a writer may be between the certificate and the key) until it stays so for
   * `settle` ms, then reported; the SVID in use is kept either way.
   */
  #onChange(confirmed: boolean): SnapshotVerdict {
    if (this.closed) return 'done';
    const error = this.#load();
    if (!error) return 'done';
    if (!confirmed) {
      this.emit('held', error.message);
      return 'suspect';
    }
    this.reportError(error);
    return 'done';
  }

  /** Loads the texts at hand; publishes a new valid SVID; returns why not otherwise. */
  #load(): Error | undefined {
    const { certChain, key, roots } = this.#texts;
    const missing = (['certChain', 'key', 'roots'] as const).filter((part) => this.#texts[part] === undefined);
    if (missing.length > 0) {
      return new Error(
        `${this.name}: ${missing.map((part) => (this.#unreadable.has(part) ? `${this.#paths[part]} unreadable (${this.#unreadable.get(part)})` : this.#paths[part])).join(', ')}` +
          `${missing.some((part) => !this.#unreadable.has(part)) ? ' missing or unreadable' : ''}; ` +
          (this.current() ? 'keeping the SVID in use' : 'waiting for the files'),
      );
    }
    const texts = `${certChain}\0${key}\0${roots}`;
    if (texts === this.#loadedKey) return undefined;
    try {
      const svid = loadSvid({
        certChain: certChain!,
        key: key!,
        roots: roots!,
        names: this.#paths,
        ...(this.#trustDomain === undefined ? {} : { trustDomain: this.#trustDomain }),
      });
      this.#loadedKey = texts;
      this.publish(svid);
      return undefined;
    } catch (error) {
      const err = error as Error;
      err.message += this.current() ? ' (the SVID in use is kept)' : ' (no SVID yet: waiting for valid files)';
      return err;
    }
  }

  /** Stops watching the files. */
  override async close(): Promise<void> {
    for (const watcher of this.#watchers) watcher.close();
    await super.close();
  }
}

/**
 * An identity source reading an SVID from files and following them: a new pair is used
 * without a restart; a half-written or mismatched pair never replaces a good one (it is
 * reported as an `error` event once it has stayed so for `settle` ms).
 *
 * ```ts
 * const identity = identityFromFiles({ dir: '/etc/certs' }); // cert-chain.pem, key.pem, root-cert.pem
 * ```
 */
export function identityFromFiles(options: FileIdentityOptions): FileIdentitySource {
  return new FileIdentitySource(options);
}
