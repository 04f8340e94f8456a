// endpointPool.tls is checked when the mesh is created: every problem names the field and
// what was expected, PEM is parsed as the connections will parse it, and no private key
// ever appears in a message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesh, InvalidOptionError } from 'proxyless';
import { testPki, type KeyPair, type TestCa, type TestPki } from '../../helpers/certs.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

function problems(tls: unknown): readonly string[] {
  try {
    void createMesh({ endpointPool: { tls } } as never).close();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as InvalidOptionError).problems;
  }
  throw new Error('createMesh accepted the options');
}

describe.skipIf(openssl.skip)(`endpointPool.tls validation${openssl.note}`, () => {
  let pki: TestPki;
  let ca: TestCa;
  let client: KeyPair;
  let stranger: KeyPair;
  beforeAll(() => {
    pki = testPki();
    ca = pki.ca('validation CA');
    client = ca.leaf('client', [], 'clientAuth');
    stranger = ca.leaf('stranger', [], 'clientAuth');
  });
  afterAll(() => pki.cleanup());

  it('accepts PEM text, bytes and lists, and a matching certificate and key', () => {
    for (const tls of [
      { ca: ca.cert },
      { ca: Buffer.from(ca.cert) },
      { ca: [ca.cert, Buffer.from(ca.cert)] },
      { cert: client.cert, key: client.key },
      { ca: ca.cert, cert: Buffer.from(client.cert), key: Buffer.from(client.key), servername: 'api.example.com', rejectUnauthorized: true },
    ]) {
      const m = createMesh({ endpointPool: { tls } });
      void m.close();
    }
  });

  it.each<[string, () => unknown, string]>([
    ['not an object', () => 'ca.pem', 'endpointPool.tls: "ca.pem" (expected: an object such as { ca: fs.readFileSync("ca.pem") })'],
    ['an unknown field', () => ({ cafile: '/etc/ca.pem' }), 'endpointPool.tls.cafile: unknown field (expected one of: ca, cert, key, passphrase, servername, rejectUnauthorized)'],
    ['a file name where PEM is expected', () => ({ ca: '/etc/ssl/ca.pem' }), 'endpointPool.tls.ca: "/etc/ssl/ca.pem" (expected: PEM CA certificates; no "-----BEGIN CERTIFICATE-----" block (a file name? pass the file\'s contents))'],
    ['a damaged certificate block', () => ({ ca: [ca.cert, ca.cert.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!')] }), 'endpointPool.tls.ca: (a list of 2) (expected: PEM CA certificates; item 1: a certificate block does not parse'],
    ['an empty list', () => ({ ca: [] }), 'endpointPool.tls.ca: (a list of 0) (expected: PEM text or bytes, or a non-empty list of them)'],
    ['a number', () => ({ cert: 42, key: client.key }), 'endpointPool.tls.cert: (number) (expected: PEM text or bytes'],
    ['a certificate without its key', () => ({ cert: client.cert }), 'endpointPool.tls.key: undefined (expected: the private key of cert)'],
    ['a key without its certificate', () => ({ key: client.key }), 'endpointPool.tls.cert: undefined (expected: the client certificate that goes with key)'],
    ['a key of another certificate', () => ({ cert: client.cert, key: stranger.key }), 'endpointPool.tls.key: (a string of'],
    ['an IP address as servername', () => ({ servername: '10.0.0.1' }), 'endpointPool.tls.servername: "10.0.0.1" (expected: a DNS name'],
    ['a servername with a space', () => ({ servername: 'api example' }), 'endpointPool.tls.servername: "api example" (expected: a DNS name'],
    ['rejectUnauthorized as a string', () => ({ rejectUnauthorized: 'false' }), 'endpointPool.tls.rejectUnauthorized: "false" (expected: true or false)'],
  ])('%s', (_name, tls, expected) => {
    const lines = problems(tls());
    expect(lines.some((line) => line.startsWith(expected)), `got:\n${lines.join('\n')}`).toBe(true);
  });

  it('never shows key material, whatever is wrong with it', () => {
    const secret = client.key.split('\n')[1]!; // a line of the base64 body
    for (const tls of [{ cert: client.cert, key: stranger.key }, { cert: client.cert, key: client.key.replace('PRIVATE', 'PUBLIC') }, { key: client.key }]) {
      const text = problems(tls).join('\n');
      expect(text).not.toContain(secret);
      expect(text).not.toContain(stranger.key.split('\n')[1]!);
      expect(text).not.toContain('PRIVATE KEY');
    }
  });

  it('reports TLS problems together with the other options', () => {
    const lines = problems({ ca: 'nope' });
    expect(lines).toHaveLength(1);
    try {
      createMesh({ discoveryTimeout: -1, endpointPool: { tls: { servername: '1.2.3.4' } } } as never);
    } catch (error) {
      const all = (error as InvalidOptionError).problems;
      expect(all.some((l) => l.startsWith('discoveryTimeout: -1'))).toBe(true);
      expect(all.some((l) => l.startsWith('endpointPool.tls.servername'))).toBe(true);
    }
  });
});
