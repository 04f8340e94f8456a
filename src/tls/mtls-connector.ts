/**
 * An undici connector that dials with the workload's current SVID: what the endpoint
 * stack's mTLS layer will use, and what tests and a plain undici `Agent` can use today.
 *
 * @module
 */
import { buildConnector } from 'undici';
import type { IdentitySource } from './identity-source.js';
import { clientTlsOptions, type ClientTlsOptions } from './secure-context.js';
import type { X509Svid } from './svid.js';

/** undici's connector function. */
export type Connector = buildConnector.connector;

/** The connector {@link mtlsConnector} returns. */
export type MtlsConnector = Connector & {
  /** Stops following the identity source (connections keep working with the last SVID). */
  close(): void;
};

/** Options of {@link mtlsConnector}. */
export interface MtlsConnectorOptions extends ClientTlsOptions {
  /** Passed to undici's `buildConnector` (timeout, keepAlive, maxCachedSessions, ...). */
  readonly connect?: Omit<buildConnector.BuildOptions, 'secureContext' | 'checkServerIdentity' | 'cert' | 'key' | 'ca'>;
}

/**
 * An undici connector (`new Agent({ connect: mtlsConnector(source) })`) presenting the
 * source's current SVID and checking the server's by the SPIFFE rules. On `rotated` the
 * next connections use the new SVID (a new secure context, and a new TLS session cache,
 * so no session of the old identity is resumed); open connections finish on the old.
 * Call `close()` to stop following the source.
 */
export function mtlsConnector(source: IdentitySource, options: MtlsConnectorOptions = {}): MtlsConnector {
  const build = (svid: X509Svid): Connector => buildConnector({ ...options.connect, ...clientTlsOptions(svid, options) } as buildConnector.BuildOptions);
  const first = source.current();
  if (!first) throw new Error(`mtlsConnector: identity source ${source.name} has no SVID yet; await source.ready() first`);
  let current = build(first);
  const onRotated = (svid: X509Svid): void => {
    current = build(svid);
  };
  source.on('rotated', onRotated);
  const connector = ((opts, callback) => current(opts, callback)) as MtlsConnector;
  connector.close = () => void source.off('rotated', onRotated);
  return connector;
}
