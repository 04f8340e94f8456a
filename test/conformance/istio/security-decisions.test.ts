// Runs the security cases of the Istio conformance corpus through the decision compiler
// (src/security). Whether Istio accepts a file is the loader's job (the conformance runner
// of issue 10 checks it); this runner checks what comes after: every case Istio accepts
// compiles into decisions, for a workload each policy selects, with no rule left out and
// without touching the network; the warnings the corpus asks for (`warns`) are given; and
// no case at all, accepted or not, makes the compiler fail with anything but a config
// error naming the resource (a config the loader refuses must not crash the compiler if
// it ever reaches it).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InvalidConfigError } from '../../../src/core/errors/index.js';
import { parseMeshYaml } from '../../../src/config/parse-mesh-yaml.js';
import { compileSecurity, JwksCache, type AuthorizationPolicyResource, type PeerAuthenticationResource, type RequestAuthenticationResource, type SecurityFinding } from '../../../src/security/index.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const FILES = ['peer-authentication', 'authorization-policy', 'request-authentication', 'samples'];
const SECURITY_KINDS = new Set(['PeerAuthentication', 'AuthorizationPolicy', 'RequestAuthentication']);

interface Case {
  readonly name: string;
  readonly expect: 'accept' | 'accept-with-warning' | 'reject';
  readonly warns?: readonly string[];
  readonly yaml: string;
}

type Resource = { kind: string; metadata: { name: string; namespace?: string }; spec?: { selector?: { matchLabels?: Record<string, string> } } };

const cases = FILES.flatMap((file) => (parse(readFileSync(join(HERE, 'cases', `${file}.yaml`), 'utf8')) as { cases: Case[] }).cases.map((c) => ({ ...c, file })));

/** The security resources of a case (none when its text does not parse). */
function securityResources(c: Case): Resource[] {
  try {
    return (parseMeshYaml(c.yaml, c.name) as Resource[]).filter((r) => r !== null && typeof r === 'object' && SECURITY_KINDS.has(r.kind));
  } catch {
    return [];
  }
}

/** Compiles the case's resources for a workload each resource selects. */
function compileFor(resource: Resource, all: Resource[]) {
  const workload = { namespace: resource.metadata?.namespace ?? 'default', labels: { ...(resource.spec?.selector?.matchLabels ?? {}) } };
  const jwks = new JwksCache({
    fetch: () => {
      throw new Error('compiling fetched a JWKS');
    },
  });
  try {
    return compileSecurity(
      {
        peerAuthentications: all.filter((r) => r.kind === 'PeerAuthentication') as unknown as PeerAuthenticationResource[],
        authorizationPolicies: all.filter((r) => r.kind === 'AuthorizationPolicy') as unknown as AuthorizationPolicyResource[],
        requestAuthentications: all.filter((r) => r.kind === 'RequestAuthentication') as unknown as RequestAuthenticationResource[],
      },
      { workload, jwks, authorization: { providers: { ext: () => true, 'my-ext-authz': () => true } } },
    );
  } finally {
    jwks.close();
  }
}

const accepted = cases.filter((c) => c.expect !== 'reject' && securityResources(c).length > 0);
const all = cases.filter((c) => securityResources(c).length > 0);

describe('security corpus: accepted cases compile into decisions', () => {
  it('covers the accepted security cases of the corpus', () => {
    // Counted from the files, so a case added to them is run without touching this test.
    expect(accepted.length).toBe(cases.filter((c) => c.expect !== 'reject' && /kind: (PeerAuthentication|AuthorizationPolicy|RequestAuthentication)/.test(c.yaml)).length);
  });

  for (const c of accepted) {
    it(`${c.file}: ${c.name}`, () => {
      const resources = securityResources(c);
      for (const resource of resources) {
        const compiled = compileFor(resource, resources);
        const leftOut = compiled.warnings.filter((w: SecurityFinding) => /left out/.test(w.message));
        expect(leftOut).toEqual([]);
        if (resource.kind === 'AuthorizationPolicy' && !('targetRefs' in (resource.spec ?? {})) && !('targetRef' in (resource.spec ?? {}))) {
          const ns = resource.metadata.namespace ?? 'default';
          const policy = compiled.authorizer.policies.find((p) => p.id === `${ns}/${resource.metadata.name}`);
          expect(policy, 'the policy applies to the workload it selects').toBeDefined();
          expect(policy!.rules.length).toBe(((resource.spec as { rules?: unknown[] })?.rules ?? []).length);
        }
        for (const path of c.warns ?? []) expect(compiled.warnings.map((w) => w.path), `a warning at ${path}`).toContain(path);
      }
    });
  }
});

describe('security corpus: no case crashes the compiler', () => {
  it('every security case, rejected ones too, compiles or fails with a config error', () => {
    let compiledCount = 0;
    let configErrors = 0;
    for (const c of all) {
      const resources = securityResources(c);
      for (const resource of resources) {
        try {
          compileFor(resource, resources);
          compiledCount++;
        } catch (error) {
          expect(error, `${c.name}: ${String(error)}`).toBeInstanceOf(InvalidConfigError);
          configErrors++;
        }
      }
    }
    expect(compiledCount + configErrors).toBeGreaterThan(all.length - 1);
  });
});
