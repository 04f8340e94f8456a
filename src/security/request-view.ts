/**
 * What authorization reads of a request. The inbound path fills one per request (or
 * reuses one object, rewriting its fields): evaluation only reads it.
 *
 * @module
 */

/** A JSON value of a token's payload. */
export type ClaimValue = string | number | boolean | null | readonly ClaimValue[] | { readonly [claim: string]: ClaimValue };

/** A validated request token (RequestAuthentication), as authorization sees it. */
export interface RequestAuth {
  /** `<iss>/<sub>`: Istio's request principal. */
  readonly principal: string;
  /**
   * The token's payload, with the space-delimited claims (`scope`, `permission` and the
   * rule's `spaceDelimitedClaims`) split into lists, as Envoy hands them to authorization.
   */
  readonly claims: { readonly [claim: string]: ClaimValue };
}

/**
 * One request, as AuthorizationPolicy rules see it. Absent values (`undefined`) match no
 * value of a rule and every `not` value.
 */
export interface AuthzRequest {
  /** The HTTP method, as sent (`GET`). */
  readonly method: string;
  /** The request path, normalised as the inbound path normalises it, without the query string. */
  readonly path: string;
  /** The `Host` / `:authority` header as sent, port included when sent. */
  readonly host: string | undefined;
  /** The port the server accepted the connection on. */
  readonly destinationPort: number;
  /** The server's own address of the connection. */
  readonly destinationIp?: string | undefined;
  /** The connection's peer address. */
  readonly sourceIp: string | undefined;
  /**
   * The original client's address (`X-Forwarded-For` or PROXY protocol, as far as the
   * inbound path trusts them); the peer address when nothing is trusted.
   */
  readonly remoteIp?: string | undefined;
  /** The mTLS peer's SPIFFE ID (`spiffe://cluster.local/ns/a/sa/b`); undefined for plaintext. */
  readonly peerSpiffeId: string | undefined;
  /** The TLS server name (SNI) the client asked for; undefined for plaintext or none sent. */
  readonly sni?: string | undefined;
  /** The validated request token; undefined when none was sent. */
  readonly auth?: RequestAuth | undefined;
  /**
   * A request header by its lower-case name (a repeated header's values joined with `, `,
   * as Node joins them); undefined when absent. Pseudo-headers `:authority` and
   * `:method` are answered from `host` and `method` without calling this.
   */
  header(name: string): string | undefined;
  /**
   * Envoy dynamic metadata for `experimental.envoy.filters.*` conditions: the value of
   * `key` set by `filter` (`envoy.filters.network.mysql_proxy`), or undefined. proxyless
   * runs no Envoy filters, so unless the inbound path sets some, there is none.
   */
  filterMetadata?(filter: string, key: string): unknown;
}
