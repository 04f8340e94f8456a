// Hostile config and hostile request data: what an attacker (or a careless writer of
// YAML) can put in front of the mesh. Each case must end in a clear error or a correct
// answer, in bounded time, never a hang, a crash or a bypass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError, staticEndpoints, type Mesh, type MeshOptions } from 'proxyless';
import { startBackend, type Backend } from '../helpers/backends.js';
import { longestBlock } from '../helpers/event-loop.js';

/** The problems of the InvalidConfigError `f` throws; fails on anything else. */
function problemsOf(f: () => unknown): readonly string[] {
  try {
    const mesh = f() as Mesh | undefined;
    void mesh?.close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems;
  }
  throw new Error('accepted');
}

const vs = (http: string, name = 'app') => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: ${name} }\nspec:\n  hosts: [app]\n  http:\n${http}`;

describe('ReDoS: regexes on request data run in linear time (RE2)', () => {
  // Classic catastrophic-backtracking patterns, each with an input that makes a
  // backtracking engine explore exponentially many paths.
  const PATTERNS: ReadonlyArray<[string, string]> = [
    ['(a+)+b', 'a'.repeat(50_000)],
    ['(a|a)*b', 'a'.repeat(50_000)],
    ['(a|aa)+c', 'a'.repeat(50_000)],
    ['(x+x+)+y', 'x'.repeat(50_000)],
    ['(.*a){20}', 'a'.repeat(50_000)],
    ['^(([a-z])+.)+[A-Z]([a-z])+$', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!'.repeat(500)],
  ];

  it.each(PATTERNS)('header regex %s on a long hostile value', async (pattern, value) => {
    const mesh = createMesh({
      config: vs(
        `  - match: [{ headers: { user-agent: { regex: ${JSON.stringify(pattern)} } } }]\n    directResponse: { status: 418 }\n  - directResponse: { status: 200 }\n`,
      ),
    });
    const blocked = await longestBlock(async () => {
      for (let i = 0; i < 3; i++) {
        const res = await mesh.fetch('http://app/', { headers: { 'user-agent': `${value}!` } });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      }
    });
    expect(blocked).toBeLessThan(1000);
    await mesh.close();
  });

  it('uri, query and authority regexes, and a uriRegexRewrite, on hostile paths', async () => {
    const backend = await startBackend({ id: 'app', handle: (req, res) => res.end(req.url) });
    const mesh = createMesh({
      discovery: [staticEndpoints({ app: [backend.address] })],
      config: vs(
        '  - match: [{ uri: { regex: "/(a+)+b" } }, { queryParams: { q: { regex: "(a|aa)+c" } } }, { authority: { regex: "(x+x+)+y" } }]\n' +
          '    directResponse: { status: 418 }\n' +
          '  - rewrite: { uriRegexRewrite: { match: "(a+)+b", rewrite: "z" } }\n' +
          '    route: [{ destination: { host: app } }]\n',
      ),
    });
    // Within Node's 16 KB header limit of the backend; 2^6000 paths for a backtracking engine.
    const path = `/${'a'.repeat(6000)}`;
    const blocked = await longestBlock(async () => {
      const res = await mesh.fetch(`http://app${path}?q=${'a'.repeat(6000)}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(`${path}?q=${'a'.repeat(6000)}`);
    });
    expect(blocked).toBeLessThan(1000);
    await mesh.close();
    await backend.close();
  });
});

// Regression: the retryOn check was one regex whose alternatives both matched a status
// code, so a list that ended badly backtracked 2^n ways (22 codes: most of a second; these
// 25 took several seconds).
it('a long retryOn list that ends badly is refused in linear time', async () => {
  const config = vs(`  - retries: { attempts: 1, retryOn: "${'503,'.repeat(25)}50x!" }\n    route: [{ destination: { host: app } }]\n`);
  let lines: readonly string[] = [];
  const blocked = await longestBlock(async () => {
    lines = problemsOf(() => createMesh({ config }));
  });
  expect(lines[0]).toMatch(/retries\.retryOn: .* \(expected: a comma-separated list \(no spaces\) of retry policies .* or HTTP status codes; "50x!" is neither\)$/);
  expect(blocked).toBeLessThan(1000);
});

describe('absurd durations are refused at load, naming the bound', () => {
  const dr = (annotation: string, value: object) =>
    `apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: app\n  annotations:\n    ${annotation}: '${JSON.stringify(value)}'\nspec: { host: app }\n`;
  it.each<[string, string, RegExp]>([
    ['route timeout 600h', vs('  - timeout: 600h\n    route: [{ destination: { host: app } }]\n'), /timeout: "600h" \(expected: a duration of at most 596h31m23\.647s \(2\^31-1 ms/],
    ['per-try timeout past Go’s limit', vs('  - retries: { attempts: 1, perTryTimeout: 9999999999999h }\n    route: [{ destination: { host: app } }]\n'), /perTryTimeout: "9999999999999h" \(expected: a duration of at most 596h31m23\.647s \(2\^31-1 ms/],
    ['fault delay of 25 days', vs('  - fault: { delay: { fixedDelay: 600h1m, percentage: { value: 100 } } }\n    route: [{ destination: { host: app } }]\n'), /fixedDelay: "600h1m" \(expected: a duration of at most/],
    ['a negative timeout', vs('  - timeout: -1s\n    route: [{ destination: { host: app } }]\n'), /timeout: "-1s" \(expected: a duration of at least 1ms \(Istio's minimum\)\)/],
    ['outlier interval of 30 days', 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: app }\nspec: { host: app, trafficPolicy: { outlierDetection: { interval: 720h } } }\n', /outlierDetection\.interval: "720h" \(expected: a duration of at most/],
    ['retry budget ttl of 600h', dr('proxyless.dev/retry-budget', { ttl: '600h' }), /ttl: "600h" \(expected: a duration of at most 1m0s/],
    ['hedging delay of 600h', `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: app\n  annotations:\n    proxyless.dev/hedging: '{"delay": "600h"}'\nspec:\n  hosts: [app]\n  http: [{ route: [{ destination: { host: app } }] }]\n`, /delay: "600h" \(expected: a duration of at most 596h31m23\.647s/],
    ['health check interval of 600h', dr('proxyless.dev/health-check', { interval: '600h' }), /interval: "600h" \(expected: a duration from 1ms to 24h/],
    ['breaker window of 600h', dr('proxyless.dev/circuit-breaker', { rollingWindow: '600h' }), /rollingWindow: "600h"/],
  ])('%s', (_name, config, expected) => {
    const lines = problemsOf(() => createMesh({ config }));
    expect(lines.some((l) => expected.test(l)), lines.join('\n')).toBe(true);
  });
});

describe('hostile config text', () => {
  const ALIAS_BOMB = `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n${['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i']
    .map((name, i) => `  ${name}: &${name} [${Array.from({ length: 9 }, () => `*${'abcdefghi'[i]}`).join(',')}]`)
    .join('\n')}\n`;

  it('an alias bomb, a 20,000-deep document and a 10 MB config fail fast with InvalidConfigError', () => {
    expect(problemsOf(() => createMesh({ config: ALIAS_BOMB }))[0]).toContain('more YAML aliases than the 100 allowed');
    expect(problemsOf(() => createMesh({ config: `apiVersion: x\nkind: y\nspec: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}\n` }))[0]).toMatch(/nested too deeply to parse|nested more than 100 levels/);
    const route = '---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: vs }\nspec: { hosts: [app], http: [{ route: [{ destination: { host: app } }] }] }\n';
    const tenMegabytes = route.repeat(Math.ceil(10_000_000 / route.length));
    expect(problemsOf(() => createMesh({ config: tenMegabytes }))[0]).toMatch(/^config\[0\]: \d+ bytes of config text \(expected: at most 8388608 bytes/);
  });

  it('a mesh in use keeps its config when applyConfig gets a hostile one', async () => {
    const mesh = createMesh({ config: vs('  - directResponse: { status: 200, body: { string: good } }\n') });
    expect(problemsOf(() => mesh.applyConfig(ALIAS_BOMB))[0]).toContain('alias');
    let deep: unknown = {};
    for (let i = 0; i < 20_000; i++) deep = { a: deep };
    expect(problemsOf(() => mesh.applyConfig({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'x' }, spec: deep }))[0]).toContain('nested more than 100 levels');
    expect(await (await mesh.fetch('http://app/')).text()).toBe('good');
    await mesh.close();
  });

  it.each<[string, string]>([
    ['CRLF in a set header value', '  - headers: { request: { set: { x-a: "1\\r\\nx-injected: 1" } } }\n    route: [{ destination: { host: app } }]\n'],
    ['LF in a response header value', '  - headers: { response: { add: { x-a: "1\\nx-injected: 1" } } }\n    route: [{ destination: { host: app } }]\n'],
    ['CRLF in a header name', '  - headers: { request: { set: { "x-a\\r\\nx-injected": "1" } } }\n    route: [{ destination: { host: app } }]\n'],
    ['CRLF in rewrite.authority', '  - rewrite: { authority: "app\\r\\nx-injected: 1" }\n    route: [{ destination: { host: app } }]\n'],
    ['CRLF in a redirect authority', '  - redirect: { authority: "evil.example\\r\\nSet-Cookie: a=b" }\n'],
    ['CRLF in a redirect uri', '  - redirect: { uri: "/x\\r\\nSet-Cookie: a=b" }\n'],
  ])('%s is refused at load', (_name, http) => {
    expect(problemsOf(() => createMesh({ config: vs(http) }))[0]).toMatch(/^VirtualService\/app \(config\[0\]#1\): spec\.http\[0\]\./);
  });
});

describe('path normalisation bypass attempts', () => {
  let backend: Backend;
  const meshes: Mesh[] = [];
  const mesh = (options: Partial<MeshOptions> = {}): Mesh => {
    const m = createMesh({
      discovery: [staticEndpoints({ app: [backend.address] })],
      config: vs('  - match: [{ uri: { prefix: /admin } }]\n    directResponse: { status: 403 }\n  - route: [{ destination: { host: app } }]\n'),
      ...options,
    });
    meshes.push(m);
    return m;
  };
  const status = async (m: Mesh, path: string): Promise<number> => {
    const res = await m.dispatcher.request({ origin: 'http://app', path, method: 'GET' });
    await res.body.text();
    return res.statusCode;
  };
  beforeAll(async () => {
    backend = await startBackend({ id: 'app', handle: (req, res) => res.end(req.url) });
  });
  afterAll(async () => {
    await Promise.all(meshes.map((m) => m.close()));
    await backend.close();
  });

  it.each(['/%61dmin', '/%61%64%6d%69%6e', '/%61%64%6D%69%6E/x', '/x/%2e%2e/admin', '/x/%2E%2e/admin', '/x/.%2e/admin', '/x\\..\\admin', '/./admin', '/x/../../../../admin'])(
    'BASE: %s reaches the /admin route',
    async (path) => {
      expect(await status(mesh(), path)).toBe(403);
    },
  );

  it('MERGE_SLASHES: //admin and ///admin//x reach it; DECODE_AND_MERGE_SLASHES: %2F and %5C spellings too', async () => {
    const merge = mesh({ pathNormalization: { normalization: 'MERGE_SLASHES' } });
    expect(await status(merge, '//admin')).toBe(403);
    expect(await status(merge, '///admin//x')).toBe(403);
    const decode = mesh({ pathNormalization: { normalization: 'DECODE_AND_MERGE_SLASHES' } });
    expect(await status(decode, '/x%2F..%2Fadmin')).toBe(403);
    expect(await status(decode, '/x%5c..%5cadmin')).toBe(403);
    expect(await status(decode, '/%2fadmin')).toBe(403);
  });

  it('what stays distinct under BASE, as Istio has it: %2F is not a slash, //admin is not /admin', async () => {
    const base = mesh();
    expect(await status(base, '/x%2F..%2Fadmin')).toBe(200);
    expect(await status(base, '//admin')).toBe(200);
    expect(await status(base, '/x\\..//admin')).toBe(200); // "//admin" once resolved
  });
});
