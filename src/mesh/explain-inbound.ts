/**
 * `mesh.explainInbound`: what this workload's server side would do with a request, and
 * why: the port's mTLS mode and the PeerAuthentication that set it, then which
 * AuthorizationPolicy allowed or denied it (each policy, each rule, the field that failed).
 * Nothing is counted or reported, and CUSTOM providers are named, not asked.
 *
 * @module
 */
import { InvalidOptionError } from '../core/errors/index.js';
import { formatValue } from '../core/validate.js';
import { normalizePath, type PathSteps } from '../route/normalize-path.js';
import { explainAuthorization, type AuthzExplanation } from '../security/authz-explain.js';
import type { CompiledSecurity } from '../security/compile-security.js';
import type { PeerAuthenticationExplanation } from '../security/peer-authentication.js';
import type { AuthzRequest, RequestAuth } from '../security/request-view.js';

/** A request as `mesh.explainInbound` takes it. */
export interface InboundRequestSpec {
  /** The URL or path asked for (`/reviews/1`, `http://reviews:9080/reviews/1`); its host and port are used when given. */
  readonly url: string;
  /** Method (default `GET`). */
  readonly method?: string;
  /** Request headers (names in any case). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The caller's SPIFFE ID (an mTLS peer); absent: plaintext. */
  readonly peer?: string;
  /** The server port the request arrives on (default: the URL's, else 80). */
  readonly port?: number;
  /** The caller's address (default `127.0.0.1`). */
  readonly sourceIp?: string;
  /** A validated request token (what RequestAuthentication would produce). */
  readonly auth?: RequestAuth;
}

/** What `mesh.explainInbound` says. */
export interface InboundExplanation {
  /** The mTLS side: the port's mode and why. */
  readonly peerAuthentication: PeerAuthenticationExplanation;
  /** Whether the connection itself would be refused (plaintext under STRICT). */
  readonly refusedByMtls: boolean;
  /** The authorization decision and why. */
  readonly authorization: AuthzExplanation;
  /** The whole story, one sentence a line, decision first. */
  readonly lines: readonly string[];
}

const FIELDS = ['url', 'method', 'headers', 'peer', 'port', 'sourceIp', 'auth'];

/** Explains a request against the compiled security of the config in force (see the module comment). */
export function explainInbound(security: CompiledSecurity, spec: InboundRequestSpec, steps: PathSteps): InboundExplanation {
  if (spec === null || typeof spec !== 'object') throw new InvalidOptionError('mesh.explainInbound', [`request: ${formatValue(spec)} (expected: { url, method?, headers?, peer?, port? })`]);
  const problems: string[] = [];
  for (const key of Object.keys(spec)) if (!FIELDS.includes(key)) problems.push(`${key}: unknown field (expected one of: ${FIELDS.join(', ')})`);
  if (typeof spec.url !== 'string' || spec.url === '') problems.push(`url: ${formatValue(spec.url)} (expected: a path such as "/reviews/1" or a URL)`);
  if (spec.port !== undefined && (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)) problems.push(`port: ${formatValue(spec.port)} (expected: a port, 1..65535)`);
  if (spec.peer !== undefined && (typeof spec.peer !== 'string' || !spec.peer.startsWith('spiffe://'))) problems.push(`peer: ${formatValue(spec.peer)} (expected: a SPIFFE ID such as "spiffe://cluster.local/ns/default/sa/productpage")`);
  if (problems.length > 0) throw new InvalidOptionError('mesh.explainInbound', problems);
  const url = new URL(spec.url, 'http://workload');
  const port = spec.port ?? (url.port !== '' ? Number(url.port) : 80);
  const headers = new Map(Object.entries(spec.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  const host = headers.get('host') ?? (url.host === 'workload' ? undefined : url.host);
  const req: AuthzRequest = {
    method: (spec.method ?? 'GET').toUpperCase(),
    path: normalizePath(url.pathname, steps),
    host,
    destinationPort: port,
    destinationIp: '127.0.0.1',
    sourceIp: spec.sourceIp ?? '127.0.0.1',
    remoteIp: spec.sourceIp ?? '127.0.0.1',
    peerSpiffeId: spec.peer,
    auth: spec.auth,
    header: (name) => headers.get(name),
  };
  const peerAuthentication = security.peerAuthentication.explain(port);
  const refusedByMtls = peerAuthentication.mode === 'STRICT' && spec.peer === undefined;
  const authorization = explainAuthorization(security.authorizer, req);
  const lines = [
    refusedByMtls ? `REFUSED: plaintext on port ${port}, which is STRICT (the connection is refused before any policy)` : `mTLS: ${peerAuthentication.text}`,
    ...(refusedByMtls ? [`mTLS: ${peerAuthentication.text}`] : []),
    `peer: ${spec.peer ?? 'none (plaintext)'}`,
    ...authorization.lines,
  ];
  return { peerAuthentication, refusedByMtls, authorization, lines };
}
