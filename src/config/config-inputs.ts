import { InvalidConfigError } from '../core/errors.js';
import { FileConfigSource } from './file-config-source.js';
import type { ConfigEntry } from './load-config.js';
import { parseMeshYaml } from './parse-mesh-yaml.js';
import type { ConfigSource } from './types.js';

/** The `config` option sorted by kind. */
export interface ConfigInputs {
  /** Resource objects and YAML text given inline, with their origins. */
  readonly inline: readonly ConfigEntry[];
  /** Files and directories, loaded once already (watched later). */
  readonly files: readonly FileConfigSource[];
  /** Other config sources (etcd, ...), loaded asynchronously. */
  readonly sources: readonly ConfigSource[];
}

function isConfigSource(value: object): value is ConfigSource {
  const v = value as Partial<ConfigSource> & { apiVersion?: unknown };
  return v.apiVersion === undefined && typeof v.watch === 'function' && typeof v.ready === 'function';
}

/** Text rather than a path: has a line break, or starts like YAML/JSON content. */
function looksLikeText(value: string): boolean {
  return value.includes('\n') || /^\s*([{[]|apiVersion\s*:|kind\s*:|---)/.test(value);
}

/**
 * Sorts the `config` items: strings are YAML text or a path (file or directory, loaded
 * now so a bad file fails `createMesh` with file, line and field); objects are resources
 * or config sources. Every problem of every item is reported at once.
 */
export function readConfigInputs(items: readonly (string | object)[]): ConfigInputs {
  const inline: ConfigEntry[] = [];
  const files: FileConfigSource[] = [];
  const sources: ConfigSource[] = [];
  const problems: string[] = [];
  items.forEach((item, index) => {
    try {
      if (typeof item === 'string') {
        if (looksLikeText(item)) {
          parseMeshYaml(item, `config[${index}]`).forEach((resource, i) => inline.push({ resource, origin: `config[${index}]#${i + 1}` }));
        } else {
          const file = new FileConfigSource(item);
          file.loadNow();
          files.push(file);
        }
      } else if (isConfigSource(item)) {
        sources.push(item);
      } else {
        inline.push({ resource: item, origin: `config[${index}]` });
      }
    } catch (error) {
      if (error instanceof InvalidConfigError) problems.push(...error.problems);
      else throw error;
    }
  });
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return { inline, files, sources };
}
