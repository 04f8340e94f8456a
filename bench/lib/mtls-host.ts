/**
 * Child-process entry hosting the mTLS benchmarks' servers on 127.0.0.1, so their CPU
 * runs in another process and the parent measures only client work (or only generates
 * load). Not a benchmark itself; started by `startMtlsHost`. Nothing may import this
 * file for a value: importing it starts the servers.
 *
 * argv[2]: JSON `{ kind, caDir, spiffeId }`. Kinds:
 * - `node-https`: a node:https server presenting the SVID, requiring a client certificate
 *   chained to the roots (Node's own mTLS, no SPIFFE check); answers `ok`;
 * - `fastify-bare`: Fastify 5 over HTTPS with the same certificates and client-certificate
 *   requirement, route `GET /hello/:name`;
 * - `fastify-mesh`: the same app served by `mesh.createServer` (STRICT, SPIFFE checks of
 *   every client) with `meshPlugin` (telemetry on, no SDK) and `AUTHZ_POLICIES`
 *   AuthorizationPolicies of mixed kinds, the last one allowing the client.
 * - `fastify-mesh-server-only`: the same app on `mesh.createServer` alone (no plugin, no
 *   policies): what the server (first-byte detection, SPIFFE checks) costs by itself.
 * Answers `{ type: 'ready', port }`; exits on `{ type: 'close' }` or when the parent goes.
 */
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import { createMesh, devIdentity } from 'proxyless';
import type { X509Svid } from 'proxyless/tls';
import { meshPlugin } from '@proxyless/fastify';

/** How many AuthorizationPolicies the `fastify-mesh` server has. */
export const AUTHZ_POLICIES = 20;

interface HostArgs {
  readonly kind: 'node-https' | 'fastify-bare' | 'fastify-mesh' | 'fastify-mesh-server-only';
  readonly caDir: string;
  readonly spiffeId: string;
}

function tlsOptions(svid: X509Svid): { cert: string; key: string; ca: string; requestCert: true; rejectUnauthorized: true } {
  return { cert: svid.certChainPem(), key: svid.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, ca: svid.rootsPem(), requestCert: true, rejectUnauthorized: true };
}

/** Policies of mixed kinds (DENY by path, header, namespace; ALLOW by principal): only the last ALLOW matches the benchmark's client. */
function policies(): string[] {
  const out: string[] = [];
  for (let i = 0; i < AUTHZ_POLICIES - 1; i++) {
    const kind = i % 3;
    const rule =
      kind === 0
        ? `{ to: [{ operation: { paths: ["/admin${i}/*"] } }] }`
        : kind === 1
          ? `{ when: [{ key: "request.headers[x-block-${i}]", values: ["yes"] }] }`
          : `{ from: [{ source: { namespaces: ["blocked-${i}"] } }] }`;
    out.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-${i}, namespace: default }
spec: { action: DENY, rules: [${rule}] }
`);
  }
  out.push(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-client, namespace: default }
spec:
  rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/client"] } }], to: [{ operation: { methods: ["GET"], paths: ["/hello/*"] } }] }]
`);
  return out;
}

async function main(): Promise<void> {
  const args: HostArgs = JSON.parse(process.argv[2]!);
  const identity = devIdentity({ caDir: args.caDir, spiffeId: args.spiffeId, ttl: '1h' });
  const svid = await identity.ready();
  let port: number;
  let close: () => Promise<unknown>;
  if (args.kind === 'node-https') {
    const server = createHttpsServer(tlsOptions(svid), (req, res) => {
      req.resume();
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    close = () => new Promise((resolve) => server.close(resolve));
  } else if (args.kind === 'fastify-bare') {
    const app = Fastify({ https: tlsOptions(svid) });
    app.get('/hello/:name', async (request) => ({ hello: (request.params as { name: string }).name }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    close = () => app.close();
  } else {
    const mesh = createMesh({
      identity,
      config: [
        `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
`,
        ...(args.kind === 'fastify-mesh' ? policies() : []),
      ],
    });
    const app = Fastify({ serverFactory: (handler) => mesh.createServer(handler, { inbound: false }) });
    if (args.kind !== 'fastify-mesh-server-only') await app.register(meshPlugin, { mesh });
    app.get('/hello/:name', async (request) => ({ hello: (request.params as { name: string }).name }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as AddressInfo).port;
    close = async () => {
      await app.close();
      await mesh.close();
    };
  }
  process.send?.({ type: 'ready', port });
  const stop = (): void => {
    void close().finally(() => process.exit(0));
  };
  process.on('message', (message: { type?: string }) => {
    if (message?.type === 'close') stop();
  });
  process.on('disconnect', stop);
}

void main();
