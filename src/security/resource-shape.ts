import type { SecurityFinding } from './types.js';

/**
 * The structure the decision compilers read, checked before they read it: types only
 * (strings, lists of strings, objects), not Istio's rules, which the config loader checks.
 * A resource that reaches the compiler from code, or from a loader that let something
 * through, then gets an error naming the field instead of a crash or a wrong decision.
 *
 * @module
 */

type Shape = 'string' | 'boolean' | 'string-or-number' | 'strings' | 'string-map' | { readonly oneOf: readonly string[] } | { readonly required: Shape } | { readonly object: Readonly<Record<string, Shape>> } | { readonly list: Shape } | { readonly map: Shape };

const strings: Shape = 'strings';
const selector: Shape = { object: { matchLabels: 'string-map' } };
const targetRef: Shape = { object: { group: 'string', kind: 'string', name: 'string', namespace: 'string' } };
const mode: Shape = { object: { mode: { oneOf: ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'] } } };

const SPECS: Readonly<Record<string, Shape>> = {
  PeerAuthentication: { object: { selector, mtls: mode, portLevelMtls: { map: mode } } },
  AuthorizationPolicy: {
    object: {
      selector,
      targetRef,
      targetRefs: { list: targetRef },
      action: { oneOf: ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] },
      provider: { object: { name: 'string' } },
      rules: {
        list: {
          object: {
            from: { list: { object: { source: { object: Object.fromEntries(['principals', 'requestPrincipals', 'namespaces', 'serviceAccounts', 'ipBlocks', 'remoteIpBlocks', 'trustDomains'].flatMap((f) => [[f, strings], [`not${f[0]!.toUpperCase()}${f.slice(1)}`, strings]])) } } } },
            to: { list: { object: { operation: { object: Object.fromEntries(['hosts', 'ports', 'methods', 'paths'].flatMap((f) => [[f, strings], [`not${f[0]!.toUpperCase()}${f.slice(1)}`, strings]])) } } } },
            when: { list: { object: { key: { required: 'string' }, values: strings, notValues: strings } } },
          },
        },
      },
    },
  },
  RequestAuthentication: {
    object: {
      selector,
      targetRef,
      targetRefs: { list: targetRef },
      jwtRules: {
        list: {
          object: {
            issuer: 'string',
            audiences: strings,
            jwksUri: 'string',
            jwks_uri: 'string',
            jwks: 'string',
            fromHeaders: { list: { object: { name: { required: 'string' }, prefix: 'string' } } },
            fromParams: strings,
            fromCookies: strings,
            outputPayloadToHeader: 'string',
            forwardOriginalToken: 'boolean',
            outputClaimToHeaders: { list: { object: { header: { required: 'string' }, claim: { required: 'string' } } } },
            timeout: 'string-or-number',
            spaceDelimitedClaims: strings,
          },
        },
      },
    },
  },
};

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

interface Problem {
  readonly path: string;
  readonly message: string;
}

function check(value: unknown, shape: Shape, path: string): Problem | undefined {
  if (typeof shape === 'object' && 'required' in shape) return value === undefined || value === '' ? { path, message: `${value === '' ? '""' : 'nothing'} (expected: a value)` } : check(value, shape.required, path);
  if (value === undefined) return undefined;
  const at = (what: string): Problem => ({ path, message: `${JSON.stringify(value)?.slice(0, 60) ?? String(value)} (expected: ${what})` });
  if (shape === 'string') return typeof value === 'string' ? undefined : at('a string');
  if (shape === 'boolean') return typeof value === 'boolean' ? undefined : at('true or false');
  if (shape === 'string-or-number') return typeof value === 'string' || typeof value === 'number' ? undefined : at('a duration');
  if (shape === 'strings') return Array.isArray(value) && value.every((v) => typeof v === 'string') ? undefined : at('a list of strings');
  if (typeof shape === 'object' && 'oneOf' in shape) return shape.oneOf.includes(value as string) ? undefined : at(`one of ${shape.oneOf.join(', ')}`);
  if (shape === 'string-map') return isObject(value) && Object.values(value).every((v) => typeof v === 'string') ? undefined : at('a map of strings');
  if ('list' in shape) {
    if (!Array.isArray(value)) return at('a list');
    for (let i = 0; i < value.length; i++) {
      if (value[i] === null || value[i] === undefined) return { path: `${path}[${i}]`, message: `${String(value[i])} (expected: an entry)` };
      const problem = check(value[i], shape.list, `${path}[${i}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  if (!isObject(value)) return at('an object');
  if ('map' in shape) {
    for (const [key, v] of Object.entries(value)) {
      if (v === null || v === undefined) return { path: `${path}[${JSON.stringify(key)}]`, message: `${String(v)} (expected: an entry)` };
      const problem = check(v, shape.map, `${path}[${JSON.stringify(key)}]`);
      if (problem !== undefined) return problem;
    }
    return undefined;
  }
  for (const [key, inner] of Object.entries(shape.object)) {
    const problem = check(value[key], inner, `${path}.${key}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The first structural problem of a security resource of `kind`, as a finding, or undefined. */
export function shapeFinding(resource: unknown, kind: 'PeerAuthentication' | 'AuthorizationPolicy' | 'RequestAuthentication', index: number): SecurityFinding | undefined {
  const metadata = isObject(resource) ? resource.metadata : undefined;
  const name = isObject(metadata) && typeof metadata.name === 'string' && metadata.name !== '' ? metadata.name : undefined;
  const where = `${kind}/${isObject(metadata) && typeof metadata.namespace === 'string' ? `${metadata.namespace}/` : ''}${name ?? `#${index}`}`;
  const problem = (path: string, message: string): SecurityFinding => ({ severity: 'error', where, path, message });
  if (!isObject(resource)) return problem('', `${JSON.stringify(resource)} (expected: a ${kind} resource)`);
  if (name === undefined) return problem('metadata.name', 'a non-empty name is needed');
  const created = (metadata as Record<string, unknown>).creationTimestamp;
  const meta = check({ ...(metadata as Record<string, unknown>), creationTimestamp: created instanceof Date ? created.toISOString() : created }, { object: { namespace: 'string', annotations: 'string-map', creationTimestamp: 'string' } }, 'metadata');
  if (meta !== undefined) return problem(meta.path, meta.message);
  const spec = check(resource.spec, SPECS[kind]!, 'spec');
  return spec === undefined ? undefined : problem(spec.path, spec.message);
}
