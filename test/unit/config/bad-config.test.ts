import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError } from 'proxyless';

function problemsOf(config: string | object[]): readonly string[] {
  try {
    void createMesh({ config }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems;
  }
  throw new Error('accepted');
}

const VS = (spec: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
${spec}`;

describe('bad config gets a clear error, never a crash', () => {
  it.each<[string, string, RegExp]>([
    ['truncated YAML', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews\n', /^config\[0\]:\d+:\d+: document 1: /],
    ['a wrong kind', 'apiVersion: networking.istio.io/v1\nkind: VirtualServce\nmetadata: { name: r }\nspec: {}\n', /kind: "VirtualServce" \(expected: one of "DestinationRule", "VirtualService", "ServiceEntry", "LocalRateLimit"\)/],
    ['a wrong type', VS('  hosts: reviews\n'), /VirtualService\/reviews \(config\[0\]#1\): spec\.hosts: "reviews" \(expected: an array\)/],
    ['an unknown enum value', 'apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: x }\nspec:\n  hosts: [x.example]\n  resolution: MAGIC\n  ports: [{ number: 80, name: http }]\n', /spec\.resolution: "MAGIC" \(expected: one of "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"\)/],
    ['a regex that does not compile', VS('  hosts: [reviews]\n  http:\n  - match: [{ uri: { regex: "([a-z" } }]\n    route: [{ destination: { host: reviews } }]\n'), /spec\.http\[0\]\.match\[0\]\.uri\.regex: "\(\[a-z" \(expected: an RE2 regular expression; RE2 says: missing closing \]/],
    ['a route with neither route nor redirect', VS('  hosts: [reviews]\n  http:\n  - match: [{ uri: { prefix: / } }]\n'), /spec\.http\[0\]: .* \(expected: exactly one of route, redirect, directResponse\)/],
    ['a negative weight', VS('  hosts: [reviews]\n  http:\n  - route: [{ destination: { host: reviews }, weight: -1 }]\n'), /spec\.http\[0\]\.route\[0\]\.weight: -1 \(expected: >= 0\)/],
    ['a bad duration', VS('  hosts: [reviews]\n  http:\n  - timeout: 5 seconds\n    route: [{ destination: { host: reviews } }]\n'), /spec\.http\[0\]\.timeout: "5 seconds" \(expected: a duration such as "10s" or "100ms"\)/],
    ['a percentage over 100', VS('  hosts: [reviews]\n  http:\n  - fault: { abort: { httpStatus: 503, percentage: { value: 120 } } }\n    route: [{ destination: { host: reviews } }]\n'), /percentage\.value: 120 \(expected: a percentage from 0 to 100\)/],
    ['a host with a scheme', VS('  hosts: ["http://reviews"]\n  http: []\n'), /spec\.hosts\[0\]: "http:\/\/reviews"/],
  ])('%s', (_name, text, expected) => {
    const lines = problemsOf(text);
    expect(lines.some((l) => expected.test(l)), lines.join('\n')).toBe(true);
  });

  it('reports every error of a file at once', () => {
    const lines = problemsOf(`${VS('  hosts: reviews\n')}---\n${VS('  hosts: [reviews]\n  http: [{ route: [{ destination: { host: reviews }, weight: x }] }]\n')}`);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('(config[0]#1)');
    expect(lines[1]).toContain('(config[0]#2)');
  });

  it('two VirtualServices for one host: reported, the first applies (as Istio does for sidecars)', async () => {
    const first = VS('  hosts: [reviews]\n  http: [{ directResponse: { status: 200, body: { string: first } } }]\n');
    const second = first.replace('name: reviews', 'name: reviews-2').replace('string: first', 'string: second');
    const mesh = createMesh({ config: `${first}---\n${second}` });
    expect(mesh.warnings).toContain('VirtualService/reviews-2 (config[0]#2): host reviews.default.svc.cluster.local is already bound by VirtualService/reviews (config[0]#1); this VirtualService is ignored for it (Istio uses the oldest)');
    expect(await (await mesh.fetch('http://reviews/')).text()).toBe('first');
    await mesh.close();
  });

  it('any YAML text gives a mesh or an InvalidConfigError, never another exception (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          void createMesh({ config: `apiVersion: networking.istio.io/v1\nkind: VirtualService\n${text}` }).close();
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidConfigError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
