import { describe, expect, it } from 'vitest';
import { createMesh, InvalidConfigError, staticEndpoints } from 'proxyless';
import { parseEndpoint } from 'proxyless/discovery';

function problemsOf(config: string): readonly string[] {
  try {
    void createMesh({ config }).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems;
  }
  throw new Error('the config was accepted');
}

const route = (fields: string) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: r }\nspec:\n  hosts: [r]\n  http:\n  - ${fields}\n`;
const WHERE = 'VirtualService/r (config[0]#1): spec.http[0]';

// Regression: each of these loaded, and then undici refused every request the route
// applied to (or, for "@", connected somewhere else).
describe('fields that reach the wire are validated at load', () => {
  it.each<[string, string, string]>([
    ['a header name with a space (set)', 'headers: { request: { set: { "x bad": "1" } } }\n    route: [{ destination: { host: r } }]', `${WHERE}.headers.request.set["x bad"]: "x bad" (expected: a header name (RFC 9110 token`],
    ['a header name with a colon (add)', 'headers: { response: { add: { "x:y": "1" } } }\n    route: [{ destination: { host: r } }]', `${WHERE}.headers.response.add["x:y"]: "x:y" (expected: a header name`],
    ['a header name with a space (remove)', 'headers: { request: { remove: ["x bad"] } }\n    route: [{ destination: { host: r } }]', `${WHERE}.headers.request.remove[0]: "x bad" (expected: a header name`],
    ['a destination header name with a space', 'route: [{ destination: { host: r }, headers: { request: { set: { "a b": "1" } } } }]', `${WHERE}.route[0].headers.request.set["a b"]: "a b"`],
    ['a CRLF in a set header value', 'headers: { request: { set: { x-a: "1\\r\\nx-evil: 1" } } }\n    route: [{ destination: { host: r } }]', `${WHERE}.headers.request.set.x-a: "1\\r\\nx-evil: 1" (expected: a header value without control characters (no CR, LF or NUL)`],
    ['a NUL in an added header value', 'headers: { response: { add: { x-a: "1\\0" } } }\n    route: [{ destination: { host: r } }]', `${WHERE}.headers.response.add.x-a: "1\\u0000" (expected: a header value without control characters`],
    ['a match header name with a space', 'match: [{ headers: { "end user": { exact: jason } } }]\n    route: [{ destination: { host: r } }]', `${WHERE}.match[0].headers["end user"]: "end user" (expected: a header name`],
    ['a withoutHeaders name with a slash', 'match: [{ withoutHeaders: { "a/b": {} } }]\n    route: [{ destination: { host: r } }]', `${WHERE}.match[0].withoutHeaders["a/b"]: "a/b"`],
    ['a CRLF in rewrite.authority', 'rewrite: { authority: "a\\r\\nx-evil: 1" }\n    route: [{ destination: { host: r } }]', `${WHERE}.rewrite.authority: "a\\r\\nx-evil: 1" (expected: an authority such as`],
    ['user info in rewrite.authority', 'rewrite: { authority: "evil@reviews" }\n    route: [{ destination: { host: r } }]', `${WHERE}.rewrite.authority: "evil@reviews" (expected: an authority`],
    ['rewrite.uri without a leading slash', 'match: [{ uri: { prefix: /api } }]\n    rewrite: { uri: "v2" }\n    route: [{ destination: { host: r } }]', `${WHERE}.rewrite.uri: "v2" (expected: a path starting with "/"`],
    ['a space in rewrite.uri', 'rewrite: { uri: "/a b" }\n    route: [{ destination: { host: r } }]', `${WHERE}.rewrite.uri: "/a b" (expected: a path starting with "/"`],
    ['a redirect uri without a leading slash', 'redirect: { uri: "x" }', `${WHERE}.redirect.uri: "x" (expected: a path starting with "/"`],
    ['a CRLF in redirect.authority', 'redirect: { authority: "a\\nb" }', `${WHERE}.redirect.authority: "a\\nb"`],
    ['a redirect scheme other than http/https', 'redirect: { scheme: "javascript" }', `${WHERE}.redirect.scheme: "javascript" (expected: "http" or "https")`],
    ['a directResponse body that is not base64', 'directResponse: { status: 200, body: { bytes: "not base64!" } }', `${WHERE}.directResponse.body.bytes: "not base64!" (expected: base64 bytes`],
  ])('%s', (_name, fields, expected) => {
    const lines = problemsOf(route(fields));
    expect(lines.some((l) => l.startsWith(expected)), lines.join('\n')).toBe(true);
  });

  it('a directResponse body over 1 MB is refused (Istio’s limit)', () => {
    const lines = problemsOf(route(`directResponse: { status: 200, body: { string: "${'x'.repeat(1024 * 1024 + 1)}" } }`));
    expect(lines).toEqual([`${WHERE}.directResponse.body: "(1048577 bytes)" (expected: a body of at most 1 MB (Istio's limit))`]);
  });

  it.each(['evil@127.0.0.1', '127.0.0.1#x', '127.0.0.1?x', 'a b', '10.0.0.1:80', 'x/y'])('a ServiceEntry endpoint address %j is refused (STATIC and DNS)', (address) => {
    const entry = (resolution: string): string =>
      `apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: { name: se }\nspec:\n  hosts: [api.example]\n  ports: [{ number: 80, name: http, protocol: HTTP }]\n  resolution: ${resolution}\n  endpoints: [{ address: ${JSON.stringify(address)} }]\n`;
    expect(problemsOf(entry('STATIC'))).toEqual([`ServiceEntry/se (config[0]#1): spec.endpoints[0].address: ${JSON.stringify(address)} (expected: an IP address with resolution STATIC (use resolution DNS for host names))`]);
    expect(problemsOf(entry('DNS'))).toEqual([`ServiceEntry/se (config[0]#1): spec.endpoints[0].address: ${JSON.stringify(address)} (expected: an IP address or a host name)`]);
  });

  it.each([['evil@127.0.0.1:80'], ['a#b:80'], ['a?b:80']])('a static endpoint %j is refused', (text) => {
    expect(parseEndpoint(text, 'svc[0]')).toBe(`svc[0]: ${JSON.stringify(text)} (expected: "host:port" with an IP address or host name, e.g. "127.0.0.1:9080")`);
    expect(() => staticEndpoints({ svc: [text] })).toThrow(`svc[0]: ${JSON.stringify(text)}`);
    expect(parseEndpoint({ address: text.slice(0, -3), port: 80 }, 'e')).toMatch(/^e\.address: .* \(expected: an IP address or host name\)$/);
  });

  it('valid values still load: tokens, Istio’s pseudo-headers in matches, IPv6 authorities, "" as unset', async () => {
    const mesh = createMesh({
      config: route(
        'match: [{ headers: { ":authority": { prefix: r }, "x-Tenant_ID": { exact: "a" } } }]\n    headers: { request: { set: { "x-a": "v\\tw é" }, remove: [x-b] } }\n    rewrite: { authority: "[::1]:8080", uri: "" }\n    route: [{ destination: { host: r } }]',
      ),
    });
    expect(mesh.warnings).toEqual([]);
    await mesh.close();
  });
});

describe('directResponse bytes', () => {
  // Regression: the base64 bytes were decoded, turned into a UTF-8 string and encoded
  // again, so every byte above 0x7F came out as EF BF BD.
  it('sends exactly the bytes Istio’s base64 says', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x0a]);
    const mesh = createMesh({ config: route(`directResponse: { status: 200, body: { bytes: "${bytes.toString('base64')}" } }`) });
    const res = await mesh.fetch('http://r/');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
    expect(res.headers.get('content-length')).toBe('8');
    const urlSafe = createMesh({ config: route(`directResponse: { status: 200, body: { bytes: "${bytes.toString('base64url')}" } }`) });
    expect(Buffer.from(await (await urlSafe.fetch('http://r/')).arrayBuffer())).toEqual(bytes);
    await Promise.all([mesh.close(), urlSafe.close()]);
  });
});
