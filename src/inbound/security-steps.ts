/**
 * The `identity` and `authorization` steps of the inbound stack (issue 14): the caller's
 * mTLS identity and request token, then Istio's AuthorizationPolicy decision, with the
 * security resources of the config version in force (compiled once per version by the
 * mesh; a reload reaches the next request).
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { normalizePath, type PathSteps } from '../route/normalize-path.js';
import { AUTHZ_DENIED_BODY, AUTHZ_DENIED_STATUS } from '../security/authorizer.js';
import type { AuthzRequest, RequestAuth } from '../security/request-view.js';
import type { TokenRequest } from '../security/jwt-location.js';
import type { JwtOutcome } from '../security/request-authentication.js';
import type { InboundExchange } from './exchange.js';
import { inboundLayer, type InboundLayer } from './inbound-stack.js';
import { pathOf } from './inbound-telemetry.js';
import type { PeerIdentity } from './types.js';

/** What the security steps read of the mesh: the compiled version in force. */
export interface InboundSecurityView {
  /** The security resources in force (read once per request). */
  readonly current: {
    /** The compiled security resources of the config version in force. */
    readonly compiled: import('../security/compile-security.js').CompiledSecurity;
  };
}

/** What the inbound reads of a mesh for its security steps (a mesh from `createMesh` has it). */
export interface SecurityMesh {
  /** @internal the security state: compiled resources in force, and the request path normalisation. */
  inboundSecurity?(): { readonly security: InboundSecurityView; readonly pathSteps: PathSteps };
}

/** The verified mTLS peer of each connection, set by the mesh's server once the handshake and our checks passed. */
const PEERS = new WeakMap<Socket, PeerIdentity>();

/** Records the verified peer of a connection (the mesh's server does, after the SPIFFE checks). */
export function setSocketPeer(socket: Socket, peer: PeerIdentity): void {
  PEERS.set(socket, peer);
}

/** The verified mTLS peer of a connection; undefined for plaintext (or a TLS server that is not the mesh's). */
export function socketPeer(socket: Socket | null | undefined): PeerIdentity | undefined {
  return socket == null ? undefined : PEERS.get(socket);
}

/** The validated request token of requests that carried one (most carry none: nothing is stored for them). */
const AUTH = new WeakMap<InboundExchange, RequestAuth>();

/** The validated JWT of a request being served, if it carried one (RequestAuthentication). */
export function requestAuthOf(exchange: InboundExchange): RequestAuth | undefined {
  return AUTH.get(exchange);
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return value === undefined ? undefined : Array.isArray(value) ? value.join(', ') : value;
}

/** A request as RequestAuthentication reads it. */
class TokenView implements TokenRequest {
  constructor(private readonly req: IncomingMessage) {}
  get method(): string {
    return this.req.method ?? 'GET';
  }
  get url(): string {
    return this.req.url ?? '/';
  }
  header(name: string): string | undefined {
    return headerOf(this.req, name);
  }
}

/** Applies a token's outcome to the request: headers removed (claim headers a caller may not forge), then set. */
function applyHeaders(req: IncomingMessage, outcome: JwtOutcome & { ok: true }): void {
  for (const name of outcome.headersToRemove) delete req.headers[name];
  for (const [name, value] of outcome.headersToSet) req.headers[name] = value;
}

/**
 * `identity`: the caller's mTLS identity (`req.mesh.peer`, from the connection the mesh's
 * server verified), then RequestAuthentication: an invalid token gets 401 (with
 * `www-authenticate`), a valid one becomes the request principal for authorization, a
 * request without a token passes with none.
 */
export function identityLayer(security: InboundSecurityView | undefined): InboundLayer {
  return inboundLayer('identity', (next) => {
    if (security === undefined) {
      return (x) => {
        x.peer = PEERS.get(x.req.socket);
        next(x);
      };
    }
    return (x) => {
      x.peer = PEERS.get(x.req.socket);
      const authenticator = security.current.compiled.requestAuthenticator;
      if (!authenticator.active) return next(x);
      authenticator.authenticate(new TokenView(x.req)).then(
        (outcome) => {
          if (!outcome.ok) {
            x.flag('UAEX');
            return x.reply(outcome.status, `${outcome.message}`, outcome.headers);
          }
          applyHeaders(x.req, outcome);
          if (outcome.auth !== undefined) AUTH.set(x, outcome.auth);
          next(x);
        },
        (error: unknown) => {
          x.reportError(error);
          x.reply(500, 'internal error: request authentication failed\n');
        },
      );
    };
  });
}

/**
 * The request as AuthorizationPolicy rules see it: read from the request and its
 * connection when a rule asks (one object per request, only when policies apply).
 */
class RequestView implements AuthzRequest {
  readonly path: string;
  constructor(
    private readonly x: InboundExchange,
    steps: PathSteps,
  ) {
    this.path = normalizePath(pathOf(x.req.url), steps);
  }
  get method(): string {
    return this.x.req.method ?? 'GET';
  }
  get host(): string | undefined {
    return this.x.req.headers.host;
  }
  get destinationPort(): number {
    return this.x.req.socket.localPort ?? 0;
  }
  get destinationIp(): string | undefined {
    return this.x.req.socket.localAddress;
  }
  get sourceIp(): string | undefined {
    return this.x.req.socket.remoteAddress;
  }
  get remoteIp(): string | undefined {
    return this.x.req.socket.remoteAddress;
  }
  get peerSpiffeId(): string | undefined {
    return this.x.peer?.spiffeId;
  }
  get sni(): string | undefined {
    const name = (this.x.req.socket as TLSSocket).servername;
    return typeof name === 'string' && name !== '' ? name : undefined;
  }
  get auth(): RequestAuth | undefined {
    return AUTH.get(this.x);
  }
  header(name: string): string | undefined {
    return headerOf(this.x.req, name);
  }
}

/** A request refused by AuthorizationPolicy: 403 `RBAC: access denied`, as Envoy's RBAC filter answers. */
function deny(x: InboundExchange): void {
  x.reply(AUTHZ_DENIED_STATUS, AUTHZ_DENIED_BODY);
}

/**
 * `authorization`: the AuthorizationPolicies in force for this workload (CUSTOM, then
 * DENY, then ALLOW; dry-run ones evaluated and counted, never enforced). Without any
 * policy the step costs one check per request.
 */
export function authorizationLayer(security: InboundSecurityView | undefined, steps: PathSteps): InboundLayer {
  return inboundLayer('authorization', (next) => {
    if (security === undefined) return next;
    return (x) => {
      const authorizer = security.current.compiled.authorizer;
      if (authorizer.policies.length === 0) return next(x);
      const view = new RequestView(x, steps);
      if (!authorizer.hasCustom) {
        if (authorizer.decide(view).allowed) return next(x);
        return deny(x);
      }
      authorizer.authorize(view).then(
        (outcome) => {
          if (outcome.kind === 'provider-denied') {
            x.flag('UAEX');
            return x.reply(outcome.outcome.status, outcome.outcome.body, outcome.outcome.headers);
          }
          if (outcome.providerHeaders !== undefined) for (const name in outcome.providerHeaders) x.req.headers[name.toLowerCase()] = outcome.providerHeaders[name]!;
          if (outcome.decision.allowed) return next(x);
          deny(x);
        },
        (error: unknown) => {
          x.reportError(error);
          x.reply(500, 'internal error: authorization failed\n');
        },
      );
    };
  });
}
