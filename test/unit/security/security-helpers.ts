import { parseAllDocuments } from 'yaml';
import type { AuthorizationPolicyResource, PeerAuthenticationResource, RequestAuthenticationResource } from '../../../src/security/index.js';
import type { AuthzRequest, RequestAuth } from '../../../src/security/request-view.js';

/** The security resources of a YAML text (several documents), by kind. */
export function resources(text: string): {
  authorizationPolicies: AuthorizationPolicyResource[];
  peerAuthentications: PeerAuthenticationResource[];
  requestAuthentications: RequestAuthenticationResource[];
} {
  const out = { authorizationPolicies: [] as AuthorizationPolicyResource[], peerAuthentications: [] as PeerAuthenticationResource[], requestAuthentications: [] as RequestAuthenticationResource[] };
  for (const doc of parseAllDocuments(text)) {
    const value = doc.toJS() as { kind?: string } | null;
    if (value === null) continue;
    if (value.kind === 'AuthorizationPolicy') out.authorizationPolicies.push(value as AuthorizationPolicyResource);
    else if (value.kind === 'PeerAuthentication') out.peerAuthentications.push(value as PeerAuthenticationResource);
    else if (value.kind === 'RequestAuthentication') out.requestAuthentications.push(value as RequestAuthenticationResource);
    else throw new Error(`unexpected kind ${value.kind}`);
  }
  return out;
}

/** What a test request may set. */
export interface RequestFields {
  method?: string;
  path?: string;
  host?: string;
  port?: number;
  destinationIp?: string;
  sourceIp?: string;
  remoteIp?: string;
  peer?: string;
  sni?: string;
  auth?: RequestAuth;
  headers?: Record<string, string>;
  metadata?: Record<string, Record<string, unknown>>;
}

/** A request view for authorization tests (GET / to port 8080 from 10.0.0.1, plaintext, unless set). */
export function request(fields: RequestFields = {}): AuthzRequest {
  const headers = Object.fromEntries(Object.entries(fields.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return {
    method: fields.method ?? 'GET',
    path: fields.path ?? '/',
    host: 'host' in fields ? fields.host : 'httpbin.foo:8000',
    destinationPort: fields.port ?? 8080,
    destinationIp: fields.destinationIp ?? '10.0.0.9',
    sourceIp: 'sourceIp' in fields ? fields.sourceIp : '10.0.0.1',
    remoteIp: fields.remoteIp,
    peerSpiffeId: fields.peer,
    sni: fields.sni,
    auth: fields.auth,
    header: (name) => headers[name],
    filterMetadata: (filter, key) => fields.metadata?.[filter]?.[key],
  };
}

/** A peer SPIFFE ID in cluster.local. */
export const spiffe = (ns: string, sa: string, td = 'cluster.local'): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;

/** A validated request token as RequestAuthentication gives it to authorization. */
export function jwtAuth(claims: Record<string, unknown>): RequestAuth {
  return { principal: `${String(claims.iss ?? '')}/${String(claims.sub ?? '')}`, claims: claims as RequestAuth['claims'] };
}
