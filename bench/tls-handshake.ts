/**
 * What SPIFFE identity verification adds to a mutual TLS handshake.
 *
 * Both variants make full mutual TLS 1.3 handshakes (no session resumption) over
 * loopback to an in-process `node:tls` server, with the same P-256 SVIDs from a dev CA
 * made at start, one connection at a time, closed once the server has accepted it (its
 * first byte arrives):
 * - mesh: the client with `clientTlsOptions` (secure context made once, our SPIFFE check
 *   of the server in `checkServerIdentity`) and the server with `serverTlsOptions` +
 *   `serveWithIdentity` (our check of every client);
 * - baseline: Node's own mTLS with the same certificates (`cert`/`key`/`ca` options,
 *   `requestCert`, `rejectUnauthorized`), no identity check at all.
 * Fair because the certificates, the sockets and the TLS work are the same; the
 * difference is our verification on both sides and the secure context made once. Rounds
 * alternate (ABBA) so machine noise hits both alike; medians of per-round means compared.
 *
 * Also: `verifySvid` alone on a 2-certificate path, with the certificates parsed (what a
 * handshake costs once the peer's chain is in the parse cache), and the parse of one
 * certificate (what a chain never seen before costs on top).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type ConnectionOptions, type Server } from 'node:tls';
import { devIdentity } from '../src/tls/dev-identity.js';
import { parseCertificate } from '../src/tls/certificate.js';
import { createDevCa, verifySvid, writeDevCa, clientTlsOptions, serverTlsOptions, serveWithIdentity, type X509Svid } from '../src/tls/index.js';
import { runIfMain } from './lib/entry.js';
import type { Log } from './lib/log.js';
import { formatNumber, result, type BenchmarkOutput } from './lib/report.js';
import { median } from './lib/stats.js';
import { scaled } from './lib/time-factor.js';

const BENCHMARK = 'tls-handshake';
const ROUNDS = 6;
const PER_ROUND = scaled(150, 30);
const MICRO_ITERATIONS = scaled(2000, 300);

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** Mean µs of `count` sequential full handshakes with `options`. */
async function handshakes(port: number, options: ConnectionOptions, count: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ...options });
      // The server writes a byte once it has accepted the client (after its checks): the
      // handshake is complete on both sides when it arrives.
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  }
  return ((performance.now() - start) * 1000) / count;
}

function pem(svid: X509Svid): { cert: string; key: string; ca: string } {
  return { cert: svid.certChainPem(), key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, ca: svid.rootsPem() };
}

/** Runs the benchmark (see the file comment). */
export async function tlsHandshake(log: Log): Promise<BenchmarkOutput> {
  const caDir = mkdtempSync(join(tmpdir(), 'proxyless-bench-ca-'));
  writeDevCa(caDir, createDevCa({ trustDomain: 'cluster.local' }));
  const serverSource = devIdentity({ caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/server', ttl: '1h' });
  const clientSource = devIdentity({ caDir, spiffeId: 'spiffe://cluster.local/ns/default/sa/client', ttl: '1h' });
  const serverSvid = serverSource.current()!;
  const clientSvid = clientSource.current()!;
  // No session tickets or cache on either server: every connection is a full handshake.
  const meshServer = createServer({ ...serverTlsOptions(serverSvid), sessionTimeout: 0 }, (s) => s.end('x'));
  meshServer.on('tlsClientError', (error) => log(`mesh server refused a client: ${error.message}`));
  const stop = serveWithIdentity(meshServer, serverSource);
  const plainServer = createServer({ ...pem(serverSvid), requestCert: true, rejectUnauthorized: true, sessionTimeout: 0 }, (s) => s.end('x'));
  const [meshPort, plainPort] = [await listen(meshServer), await listen(plainServer)];
  const meshOptions: ConnectionOptions = { ...clientTlsOptions(clientSvid, { expect: { ids: [serverSvid.spiffeId] } }) };
  const plainOptions: ConnectionOptions = { ...pem(clientSvid), rejectUnauthorized: true, checkServerIdentity: () => undefined };
  try {
    log(`warming up, then ${ROUNDS} rounds of ${PER_ROUND} handshakes per variant`);
    await handshakes(meshPort, meshOptions, PER_ROUND);
    await handshakes(plainPort, plainOptions, PER_ROUND);
    const mesh: number[] = [];
    const plain: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['mesh', 'plain'] : ['plain', 'mesh'];
      for (const variant of order) {
        if (variant === 'mesh') mesh.push(await handshakes(meshPort, meshOptions, PER_ROUND));
        else plain.push(await handshakes(plainPort, plainOptions, PER_ROUND));
      }
      log(`round ${round + 1}: mesh ${formatNumber(mesh.at(-1)!)} µs, plain ${formatNumber(plain.at(-1)!)} µs per handshake`);
    }
    // verifySvid alone, the chain already parsed; and one parse.
    const chain = [clientSvid.leaf];
    for (let i = 0; i < MICRO_ITERATIONS / 10; i++) verifySvid(chain, clientSvid.bundle);
    let start = performance.now();
    for (let i = 0; i < MICRO_ITERATIONS; i++) verifySvid(chain, clientSvid.bundle);
    const verifyUs = ((performance.now() - start) * 1000) / MICRO_ITERATIONS;
    const der = clientSvid.leaf.der;
    for (let i = 0; i < MICRO_ITERATIONS / 10; i++) parseCertificate(der);
    start = performance.now();
    for (let i = 0; i < MICRO_ITERATIONS / 4; i++) parseCertificate(der);
    const parseUs = ((performance.now() - start) * 1000) / (MICRO_ITERATIONS / 4);
    const meshUs = median(mesh);
    const plainUs = median(plain);
    return {
      results: [
        result({ benchmark: BENCHMARK, metric: 'full mutual TLS 1.3 handshake, SPIFFE checks on both sides vs none', unit: 'µs', mesh: meshUs, baseline: plainUs }),
        result({ benchmark: BENCHMARK, metric: 'verifySvid, 2-certificate path already parsed (vs one handshake without checks)', unit: 'µs', mesh: verifyUs, baseline: plainUs }),
        result({ benchmark: BENCHMARK, metric: 'parse of one certificate never seen (vs one handshake without checks)', unit: 'µs', mesh: parseUs, baseline: plainUs }),
      ],
      notes: [
        `a handshake with SPIFFE verification on both sides took ${formatNumber(meshUs)} µs against ${formatNumber(plainUs)} µs for Node's mTLS alone (both sides in one process, P-256)`,
        'peer certificates are parsed once and cached by DER (512 entries); a chain never seen costs one parse per certificate on top',
      ],
    };
  } finally {
    stop();
    meshServer.close();
    plainServer.close();
    await serverSource.close();
    await clientSource.close();
    rmSync(caDir, { recursive: true, force: true });
  }
}

runIfMain(import.meta.url, BENCHMARK, tlsHandshake);
