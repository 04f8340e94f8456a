// SPIFFE mTLS with real sockets: a node:https server on 127.0.0.1 port 0 using
// serverTlsOptions + serveWithIdentity, an undici client using mtlsConnector, SVIDs from a
// dev CA made at test time. The mesh wiring comes later; these are its building blocks.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SvidError } from '../../../src/core/errors/index.js';
import {
  createDevCa,
  issueSvid,
  loadSvid,
  mtlsConnector,
  serveWithIdentity,
  serverTlsOptions,
  writeDevCa,
  type VerifiedSvid,
  type X509Svid,
} from '../../../src/tls/index.js';
import { BaseIdentitySource, type IdentitySource } from '../../../src/tls/identity-source.js';
import { devIdentity, type DevIdentitySource } from '../../../src/tls/dev-identity.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } from '@peculiar/asn1-x509';
import { testIntermediate, testLeaf, testRoot } from '../../helpers/svid-certs.js';
import { Progress } from '../../helpers/wait.js';
import { requireBinaries } from '../../helpers/system-binaries.js';

const openssl = requireBinaries([{ bin: 'openssl', pkg: 'openssl' }]);

const TD = 'cluster.local';
const SERVER_ID = `spiffe://${TD}/ns/default/sa/reviews`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/productpage`;

/** An identity source holding one fixed SVID (a real one; only the source is trivial). */
class FixedIdentity extends BaseIdentitySource {
  readonly name = 'fixed';
  constructor(svid: X509Svid) {
    super();
    this.publish(svid);
  }
}

interface TestServer {
  readonly server: Server;
  readonly port: number;
  readonly peers: VerifiedSvid[];
  readonly refused: Error[];
  readonly progress: Progress;
  close(): Promise<void>;
}

async function startServer(source: IdentitySource, handle?: (count: number) => Record<string, string | undefined>): Promise<TestServer> {
  const peers: VerifiedSvid[] = [];
  const refused: Error[] = [];
  const progress = new Progress();
  let count = 0;
  const server = createServer(serverTlsOptions(source.current()!), (req, res) => {
    count++;
    res.writeHead(200, { 'content-type': 'text/plain', ...handle?.(count) } as Record<string, string>);
    res.end(`hello ${count}`);
  });
  const stop = serveWithIdentity(server, source, {
    onPeer: (verified) => {
      peers.push(verified);
      progress.notify();
    },
  });
  server.on('tlsClientError', (error) => {
    refused.push(error);
    progress.notify();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    peers,
    refused,
    progress,
    close: () =>
      new Promise<void>((resolve) => {
        stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let caDir: string;
let serverSource: DevIdentitySource;
let clientSource: DevIdentitySource;
let server: TestServer;

beforeAll(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'proxyless-mtls-ca-'));
  writeDevCa(caDir, createDevCa({ trustDomain: TD }));
  serverSource = devIdentity({ caDir, spiffeId: SERVER_ID, ttl: '1h' });
  clientSource = devIdentity({ caDir, spiffeId: CLIENT_ID, ttl: '1h' });
  server = await startServer(serverSource);
});
afterAll(async () => {
  await server.close();
  await serverSource.close();
  await clientSource.close();
  rmSync(caDir, { recursive: true, force: true });
});

function clientAgent(source: IdentitySource, expectIds: string[] = [SERVER_ID], seen?: VerifiedSvid[]): Agent {
  return new Agent({ connect: mtlsConnector(source, { expect: { ids: expectIds }, ...(seen ? { onVerified: (v) => seen.push(v) } : {}) }) });
}

describe('SPIFFE mTLS with real sockets', () => {
  it('completes a mutual handshake: each side verifies the SPIFFE ID of the other', async () => {
    const seen: VerifiedSvid[] = [];
    const agent = clientAgent(clientSource, [SERVER_ID], seen);
    try {
      const res = await request(`https://127.0.0.1:${server.port}/`, { dispatcher: agent });
      expect(res.statusCode).toBe(200);
      await res.body.text();
      expect(seen.map((v) => v.spiffeId.uri)).toEqual([SERVER_ID]);
      expect(server.peers.at(-1)?.spiffeId.uri).toBe(CLIENT_ID);
      expect(server.peers.at(-1)?.spiffeId.principal).toBe(`${TD}/ns/default/sa/productpage`);
    } finally {
      await agent.close();
    }
  });

  it('client refuses a server presenting another SPIFFE ID, saying which was expected and which presented', async () => {
    const agent = clientAgent(clientSource, [`spiffe://${TD}/ns/default/sa/ratings`]);
    try {
      const error = await request(`https://127.0.0.1:${server.port}/`, { dispatcher: agent }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(SvidError);
      expect((error as SvidError).code).toBe('PROXYLESS_ERR_SVID_UNEXPECTED_ID');
      expect(error!.message).toContain(`SPIFFE ID ${SERVER_ID} (expected: spiffe://${TD}/ns/default/sa/ratings)`);
    } finally {
      await agent.close();
    }
  });

  it('server refuses a client certificate from its own CA that breaks an SVID rule (two URI SANs), with the rule in its error', async () => {
    // A leaf with two URI SANs, signed by the CA the server trusts: OpenSSL accepts the chain;
    // only our SPIFFE check can refuse it.
    const root = testRoot(TD);
    const bad = testLeaf(root, CLIENT_ID, { uris: [CLIENT_ID, `spiffe://${TD}/ns/admin/sa/root`] });
    const goodLeaf = testLeaf(root, SERVER_ID);
    const local = await startServer(new FixedIdentity(loadSvid({ certChain: goodLeaf.pem, key: goodLeaf.keyPem, roots: root.pem })));
    try {
      const socket = connect({ host: '127.0.0.1', port: local.port, cert: bad.pem, key: bad.keyPem, ca: root.pem, checkServerIdentity: () => undefined });
      socket.on('error', () => {});
      await local.progress.until('a refused client', () => local.refused.length > 0);
      expect(local.refused[0]).toBeInstanceOf(SvidError);
      expect((local.refused[0] as SvidError).rule).toBe('multiple_uri_sans');
      expect(local.refused[0]!.message).toMatch(/client certificate from 127\.0\.0\.1:\d+: 2 URI SANs/);
      // Under TLS 1.3 the client learns at its first read: the socket is closed.
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      expect(local.peers).toHaveLength(0);
    } finally {
      await local.close();
    }
  });

  it("server also requires OpenSSL's verdict: a chain our rules pass but X.509 path validation refuses (a name constraint) is refused", async () => {
    // A non-critical nameConstraints extension on the intermediate (RFC 5280 wants it
    // critical; OpenSSL enforces it anyway, our verifier does not read it): it permits URIs
    // of example.org only, and the client's SPIFFE ID is in cluster.local.
    const root = testRoot(TD);
    const constraint = AsnConvert.serialize(
      new NameConstraints({ permittedSubtrees: new GeneralSubtrees([new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: 'example.org' }) })]) }),
    );
    const mid = testIntermediate(root, 'constrained', { extraExtensions: [{ id: '2.5.29.30', critical: false, value: Buffer.from(constraint) }] });
    const leaf = testLeaf(mid, CLIENT_ID);
    const serverLeaf = testLeaf(root, SERVER_ID);
    const local = await startServer(new FixedIdentity(loadSvid({ certChain: serverLeaf.pem, key: serverLeaf.keyPem, roots: root.pem })));
    try {
      const socket = connect({ host: '127.0.0.1', port: local.port, cert: leaf.pem + mid.pem, key: leaf.keyPem, ca: root.pem, checkServerIdentity: () => undefined });
      socket.on('error', () => {});
      await local.progress.until('a refused client', () => local.refused.length > 0);
      const error = local.refused[0] as SvidError;
      expect(error.rule).toBe('untrusted');
      // Node reports OpenSSL's reason as UNSPECIFIED for this one; the rule and the words are ours.
      expect(error.message).toMatch(/a chain OpenSSL refused \([A-Z_]+\)/);
      expect(local.peers).toHaveLength(0);
    } finally {
      await local.close();
    }
  });

  it('server refuses a client with no certificate, and one from an untrusted CA', async () => {
    const stranger = testRoot(TD);
    const leaf = testLeaf(stranger, CLIENT_ID);
    const before = server.refused.length;
    const results: string[] = [];
    for (const options of [{}, { cert: leaf.pem, key: leaf.keyPem }]) {
      const agent = new Agent({ connect: { ca: serverSource.current()!.rootsPem(), checkServerIdentity: () => undefined, ...options } });
      try {
        await request(`https://127.0.0.1:${server.port}/`, { dispatcher: agent }).then(
          () => results.push('accepted'),
          (error: Error) => results.push(`refused: ${error.message}`),
        );
      } finally {
        await agent.close();
      }
    }
    expect(results.every((r) => r.startsWith('refused'))).toBe(true);
    await server.progress.until('two refusals', () => server.refused.length >= before + 2);
    const [none, untrusted] = server.refused.slice(before) as SvidError[];
    expect(none!.message).toMatch(/client 127\.0\.0\.1:\d+: no client certificate \(expected: an X\.509-SVID\)/);
    expect(untrusted!.rule).toBe('untrusted');
    expect(untrusted!.message).toMatch(/client certificate from 127\.0\.0\.1:\d+: a chain that ends at O=cluster\.local, CN=root \w+, which is not a root of trust domain cluster\.local/);
  });

  it("accepts clients offering only Istio's ALPN values, and refuses one offering only h2", async () => {
    const svid = clientSource.current()!;
    const handshake = (alpn: string[]): Promise<string | false | Error> =>
      new Promise((resolve) => {
        const socket: TLSSocket = connect({
          host: '127.0.0.1',
          port: server.port,
          cert: svid.certChainPem(),
          key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }),
          ca: svid.rootsPem(),
          ALPNProtocols: alpn,
          checkServerIdentity: () => undefined,
        });
        socket.once('secureConnect', () => {
          resolve(socket.alpnProtocol ?? false);
          socket.end();
        });
        socket.once('error', (error) => resolve(error));
      });
    expect(await handshake(['istio-http/1.1'])).toBe('istio-http/1.1');
    expect(await handshake(['istio'])).toBe('istio');
    expect(await handshake(['istio-peer-exchange', 'istio-http/1.1', 'istio', 'http/1.1'])).toBe('http/1.1');
    const h2 = await handshake(['h2']);
    expect(h2).toBeInstanceOf(Error);
    expect(String(h2)).toMatch(/no application protocol|no_application_protocol/i);
  });

  it.skipIf(openssl.skip)(`openssl s_client offering only istio-http/1.1 completes mTLS and gets an HTTP answer${openssl.note}`, async () => {
    const svid = clientSource.current()!;
    const files = mkdtempSync(join(tmpdir(), 'proxyless-s-client-'));
    try {
      writeFileSync(join(files, 'cert.pem'), svid.certChainPem());
      writeFileSync(join(files, 'key.pem'), svid.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      writeFileSync(join(files, 'roots.pem'), svid.rootsPem());
      const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${server.port}`, '-cert', join(files, 'cert.pem'), '-key', join(files, 'key.pem'), '-CAfile', join(files, 'roots.pem'), '-verify_return_error', '-alpn', 'istio-http/1.1', '-ign_eof']);
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stdin.end('GET / HTTP/1.1\r\nhost: reviews\r\nconnection: close\r\n\r\n');
      await new Promise<void>((resolve) => child.once('close', () => resolve()));
      expect(out).toContain('ALPN protocol: istio-http/1.1');
      expect(out).toMatch(/Verify return code: 0 \(ok\)/);
      expect(out).toMatch(/HTTP\/1\.1 200 OK[\s\S]*hello \d+/);
      expect(server.peers.at(-1)?.spiffeId.uri).toBe(CLIENT_ID);
    } finally {
      rmSync(files, { recursive: true, force: true });
    }
  });

  it('resumes TLS sessions with client certificates (a session id context is set) and still knows the peer', async () => {
    const agent = clientAgent(clientSource);
    const reused: boolean[] = [];
    const onSecure = (socket: TLSSocket): void => void reused.push(socket.isSessionReused());
    server.server.on('secureConnection', onSecure);
    try {
      for (let i = 0; i < 4; i++) {
        const res = await request(`https://127.0.0.1:${server.port}/`, { dispatcher: agent, headers: { connection: 'close' } });
        expect(res.statusCode).toBe(200);
        await res.body.text();
      }
      expect(reused.slice(1).some(Boolean)).toBe(true);
      expect(server.peers.at(-1)?.spiffeId.uri).toBe(CLIENT_ID);
    } finally {
      server.server.off('secureConnection', onSecure);
      await agent.close();
    }
  });
});

describe('rotation under load (issue 14)', () => {
  it('rotates both sides every second under 32-concurrent mTLS traffic with 0 failed requests, and the served certificate really changes', async () => {
    // A rotation about every second (10 % of a 10 s lifetime, ± 5 %). With a 2 s lifetime
    // rotated at half, a handshake queued behind a busy event loop on a loaded machine could
    // reach the server's check after the certificate it started with expired (seen: 56 ms
    // late); real lifetimes are hours, so the margin, not the rotation rate, is what to keep.
    const rotatingServer = devIdentity({ caDir, spiffeId: SERVER_ID, ttl: '10s', rotationRatio: 0.1 });
    const rotatingClient = devIdentity({ caDir, spiffeId: CLIENT_ID, ttl: '10s', rotationRatio: 0.1 });
    // Every 8th response closes its connection, so new connections keep coming and pick up new certificates.
    const local = await startServer(rotatingServer, (count) => (count % 8 === 0 ? { connection: 'close' } : {}));
    const servedSeen = new Set<string>();
    const agent = new Agent({ connect: mtlsConnector(rotatingClient, { expect: { ids: [SERVER_ID] }, onVerified: (v) => servedSeen.add(v.path[0]!.fingerprint256) }) });
    const progress = new Progress();
    let serverRotations = 0;
    let clientRotations = 0;
    rotatingServer.on('rotated', () => {
      serverRotations++;
      progress.notify();
    });
    rotatingClient.on('rotated', () => {
      clientRotations++;
      progress.notify();
    });
    let ok = 0;
    const failures: Error[] = [];
    let stop = false;
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const res = await request(`https://127.0.0.1:${local.port}/`, { dispatcher: agent });
          const body = await res.body.text();
          if (res.statusCode === 200 && body.startsWith('hello')) ok++;
          else failures.push(new Error(`status ${res.statusCode}`));
        } catch (error) {
          failures.push(error as Error);
        }
        progress.notify();
      }
    };
    const workers = Array.from({ length: 32 }, worker);
    try {
      await progress.until('3 rotations of each side with traffic', () => serverRotations >= 3 && clientRotations >= 3 && servedSeen.size >= 3, 30_000);
    } finally {
      stop = true;
      await Promise.all(workers);
      await agent.close();
      await local.close();
      await rotatingServer.close();
      await rotatingClient.close();
    }
    expect(local.refused.map((e) => e.message)).toEqual([]);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    // The client saw the server present at least three different certificates, and the
    // server saw at least three different client certificates.
    expect(servedSeen.size).toBeGreaterThanOrEqual(3);
    expect(new Set(local.peers.map((p) => p.path[0]!.fingerprint256)).size).toBeGreaterThanOrEqual(3);
  });
});
