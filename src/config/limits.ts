/**
 * Limits on config input, so a hostile or broken config costs bounded time and memory
 * and fails with a sentence an InvalidConfigError can carry, never a stack overflow or
 * a runaway parse. Documented in the README ("Config limits").
 *
 * @module
 */

/** The largest YAML/JSON text parsed at once (a file, an inline string, a config source's value): 8 MiB. */
export const MAX_CONFIG_TEXT_BYTES = 8 * 1024 * 1024;
/**
 * YAML aliases (`*name`) a text may resolve: the `yaml` package's `maxAliasCount`. An
 * alias bomb (aliases of aliases) expands exponentially; past this it is refused.
 */
export const MAX_YAML_ALIASES = 100;
/** How deeply one resource may nest objects and arrays (Istio's need about 12). */
export const MAX_CONFIG_DEPTH = 100;
/** How many values (objects, arrays, scalars) one resource may hold. */
export const MAX_CONFIG_VALUES = 100_000;

/**
 * Why `value` is beyond {@link MAX_CONFIG_DEPTH} or {@link MAX_CONFIG_VALUES}, with the
 * field path where the limit was crossed (`spec.http[0]...`), or undefined. Walks without
 * recursion and stops at the first excess, so a 20,000-deep object, a cycle (endlessly
 * deep) or a graph with shared parts (exponentially many paths) costs at most
 * {@link MAX_CONFIG_VALUES} steps; what validates the resource afterwards (zod,
 * JSON.stringify, structuredClone) recurses, and would overflow.
 */
export function shapeProblem(value: unknown): string | undefined {
  // Every value seen: its key and its parent's index, to name the path of an excess.
  const keys: Array<string | number> = [''];
  const parents: number[] = [-1];
  const depths: number[] = [1];
  const values: unknown[] = [value];
  const pending: number[] = [0];
  while (pending.length > 0) {
    const at = pending.pop()!;
    const current = values[at];
    if (current === null || typeof current !== 'object') continue;
    if (depths[at]! > MAX_CONFIG_DEPTH) return `${pathOf(at, keys, parents)}: nested more than ${MAX_CONFIG_DEPTH} levels deep (the limit), or a cycle`;
    const array = Array.isArray(current);
    for (const key of Object.keys(current)) {
      if (values.length >= MAX_CONFIG_VALUES) return `${pathOf(at, keys, parents)}: more than ${MAX_CONFIG_VALUES} values in one resource (the limit)`;
      pending.push(values.length);
      values.push((current as Record<string, unknown>)[key]);
      keys.push(array ? Number(key) : key);
      parents.push(at);
      depths.push(depths[at]! + 1);
    }
  }
  return undefined;
}

/** The field path of value `at`, as messages write it (`spec.http[0].match`). */
function pathOf(at: number, keys: ReadonlyArray<string | number>, parents: readonly number[]): string {
  const parts: Array<string | number> = [];
  for (let i = at; i > 0; i = parents[i]!) parts.push(keys[i]!);
  let out = '';
  for (const part of parts.reverse()) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  if (out === '') return '(root)';
  return out.length > 160 ? `${out.slice(0, 157)}...` : out;
}
