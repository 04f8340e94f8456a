import { InvalidConfigError, type ConfigDiagnostic } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
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
 * or config sources. Every problem of every item is reported at once. With `inlineOnly`
 * (`applyConfig`), paths and config sources are problems: they belong to `createMesh`.
 */
export function readConfigInputs(items: readonly (string | object)[], options: { inlineOnly?: boolean } = {}): ConfigInputs {
  const inline: ConfigEntry[] = [];
  const files: FileConfigSource[] = [];
  const sources: ConfigSource[] = [];
  const problems: (string | ConfigDiagnostic)[] = [];
  items.forEach((item, index) => {
    try {
      if (typeof item === 'string') {
        if (looksLikeText(item)) {
          parseMeshYaml(item, `config[${index}]`).forEach((resource, i) => inline.push({ resource, origin: `config[${index}]#${i + 1}` }));
        } else if (options.inlineOnly) {
          problems.push(`config[${index}]: ${formatValue(item)} looks like a file path (expected: YAML text or resource objects; pass files to createMesh, which watches them)`);
        } else {
          const file = new FileConfigSource(item);
          file.loadNow();
          files.push(file);
        }
      } else if (item === null || typeof item !== 'object' || Array.isArray(item)) {
        problems.push(`config[${index}]: ${formatValue(item)} (expected: YAML text, a file or directory path, an Istio resource object or a config source)`);
      } else if (isConfigSource(item)) {
        if (options.inlineOnly) problems.push(`config[${index}]: a config source (expected: YAML text or resource objects; pass config sources to createMesh)`);
        else sources.push(item);
      } else {
        inline.push({ resource: item, origin: `config[${index}]` });
      }
    } catch (error) {
      if (error instanceof InvalidConfigError) problems.push(...error.diagnostics.filter((d) => d.severity === 'error'));
      else problems.push(`config[${index}]: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return { inline, files, sources };
}
