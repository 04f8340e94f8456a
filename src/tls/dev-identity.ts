/**
 * `devIdentity`: SVIDs issued in-process from a CA on disk, rotated before they expire,
 * as istio-agent does with Istio's CA (at about half the lifetime, with jitter so a fleet
 * started together does not renew together).
 *
 * @module
 */
import { resolve } from 'node:path';
import { InvalidOptionError } from '../core/errors/index.js';
import { MAX_TIMER_MS } from '../core/duration.js';
import type { KeyType } from './create-certificate.js';
import { DEFAULT_SVID_TTL_MS, MIN_SVID_TTL_MS, durationMs, issueSvid, loadDevCa, type DevCa } from './dev-ca.js';
import { BaseIdentitySource } from './identity-source.js';
import { SpiffeId, toSpiffeId } from './spiffe-id.js';
import { loadSvid } from './svid.js';

/** Options of {@link devIdentity}. */
export interface DevIdentityOptions {
  /** The CA directory (`proxyless certs ca create --dir ...`): ca-cert.pem, ca-key.pem, root-cert.pem. */
  readonly caDir: string;
  /** This workload's SPIFFE ID, in the CA's trust domain. */
  readonly spiffeId: string | SpiffeId;
  /** The SVIDs' lifetime, ms or Go duration (`24h`); default 24 h (Istio's). At least 1 s. */
  readonly ttl?: number | string;
  /** Fraction of the lifetime after which a new SVID is issued (default 0.5, Istio's grace ratio). */
  readonly rotationRatio?: number;
  /** The ratio varies by up to ± this (default 0.05), at random per rotation. */
  readonly rotationJitter?: number;
  /** Key type (default `ec-p256`). */
  readonly keyType?: KeyType;
  /** Random numbers in [0, 1) for the jitter (default Math.random). */
  readonly random?: () => number;
}

/** The soonest a rotation is scheduled after the last: a CA about to expire cannot make it spin. */
const MIN_ROTATION_DELAY_MS = 100;

/** Retry delay after a failed issuance: a tenth of the lifetime, between 1 s and 30 s. */
function retryDelay(ttl: number): number {
  return Math.min(30_000, Math.max(1000, ttl / 10));
}

/** An in-process issuer of this workload's SVIDs; see {@link devIdentity}. */
export class DevIdentitySource extends BaseIdentitySource {
  /** See {@link IdentitySource.name}. */
  readonly name: string;
  /** The SPIFFE ID issued. */
  readonly spiffeId: SpiffeId;
  /** The lifetime of each SVID, ms. */
  readonly ttl: number;
  readonly #caDir: string;
  readonly #ratio: number;
  readonly #jitter: number;
  readonly #keyType: KeyType | undefined;
  readonly #random: () => number;
  #timer: NodeJS.Timeout | undefined;
  /** When the next rotation is due (ms since the epoch), for `nextRotation`. */
  #due: number | undefined;

  /** @param options see {@link DevIdentityOptions} */
  constructor(options: DevIdentityOptions) {
    super();
    const problems: string[] = [];
    const known = new Set(['caDir', 'spiffeId', 'ttl', 'rotationRatio', 'rotationJitter', 'keyType', 'random']);
    for (const key of Object.keys(options)) if (!known.has(key)) problems.push(`${key}: unknown field (expected one of: ${[...known].join(', ')})`);
    if (typeof options.caDir !== 'string' || options.caDir === '') problems.push(`caDir: ${JSON.stringify(options.caDir)} (expected: a directory path)`);
    let id: SpiffeId | undefined;
    try {
      id = toSpiffeId(options.spiffeId);
      if (id.path === '') problems.push(`spiffeId: "${id.uri}" (expected: a workload ID with a path)`);
    } catch (error) {
      problems.push(`spiffeId: ${JSON.stringify(String(options.spiffeId))} (expected: a SPIFFE ID; ${(error as Error).message})`);
    }
    let ttl = DEFAULT_SVID_TTL_MS;
    try {
      if (options.ttl !== undefined) ttl = durationMs(options.ttl, 'ttl', 'devIdentity');
      if (ttl < MIN_SVID_TTL_MS) problems.push(`ttl: ${JSON.stringify(options.ttl)} (expected: at least 1s)`);
    } catch (error) {
      problems.push(...(error as InvalidOptionError).problems);
    }
    const { rotationRatio = 0.5, rotationJitter = 0.05 } = options;
    if (typeof rotationRatio !== 'number' || !(rotationRatio > 0 && rotationRatio < 1)) problems.push(`rotationRatio: ${JSON.stringify(rotationRatio)} (expected: a number between 0 and 1, exclusive)`);
    if (typeof rotationJitter !== 'number' || !(rotationJitter >= 0 && rotationJitter < Math.min(rotationRatio, 1 - rotationRatio))) {
      problems.push(`rotationJitter: ${JSON.stringify(rotationJitter)} (expected: from 0 to below min(rotationRatio, 1 - rotationRatio))`);
    }
    if (options.keyType !== undefined && options.keyType !== 'ec-p256' && options.keyType !== 'rsa-2048') problems.push(`keyType: ${JSON.stringify(options.keyType)} (expected: "ec-p256" or "rsa-2048")`);
    if (problems.length > 0) throw new InvalidOptionError('devIdentity', problems);
    this.spiffeId = id!;
    this.ttl = ttl;
    this.#caDir = resolve(options.caDir);
    this.#ratio = rotationRatio;
    this.#jitter = rotationJitter;
    this.#keyType = options.keyType;
    this.#random = options.random ?? Math.random;
    this.name = `dev(${this.spiffeId.uri})`;
    // The CA is read now so a wrong directory or trust domain is an error of the call.
    const ca = loadDevCa(this.#caDir);
    if (ca.trustDomain !== this.spiffeId.trustDomain) {
      throw new InvalidOptionError('devIdentity', [`spiffeId: "${this.spiffeId.uri}" (expected: an ID of the CA's trust domain ${ca.trustDomain})`]);
    }
    this.#rotate(ca);
  }

  /** When the next rotation is due, or undefined once closed. */
  get nextRotation(): Date | undefined {
    return this.#due === undefined ? undefined : new Date(this.#due);
  }

  /** Issues a new SVID now (the CA is read again from disk) and schedules the next. */
  rotateNow(): void {
    if (this.closed) return;
    this.#rotate();
  }

  #rotate(given?: DevCa): void {
    clearTimeout(this.#timer);
    try {
      const ca = given ?? loadDevCa(this.#caDir);
      const now = Date.now();
      const issued = issueSvid(ca, { spiffeId: this.spiffeId, ttl: this.ttl, now, ...(this.#keyType ? { keyType: this.#keyType } : {}) });
      const svid = loadSvid({ certChain: issued.certChain, key: issued.key, roots: issued.roots, names: { certChain: `${this.name} certificate`, key: `${this.name} key`, roots: `${this.#caDir} roots` } });
      this.publish(svid);
      const lifetime = svid.notAfter.getTime() - now;
      if (lifetime < this.ttl - 1000) {
        this.reportError(new Error(`${this.name}: the CA in ${this.#caDir} expires at ${ca.chain[0]!.notAfter.toISOString()}, so this SVID lives ${lifetime} ms instead of ${this.ttl} ms; create a new CA`));
      }
      // random() is trusted only within [0, 1): the ratio stays within ratio ± jitter.
      const drawn = this.#random();
      const random = Number.isFinite(drawn) ? Math.min(Math.max(drawn, 0), 1) : 0;
      const ratio = this.#ratio + (random * 2 - 1) * this.#jitter;
      this.#schedule(now + Math.max(MIN_ROTATION_DELAY_MS, lifetime * ratio));
    } catch (error) {
      this.reportError(new Error(`${this.name}: issuing a new SVID failed (${(error as Error).message}); ${this.current() ? 'the SVID in use is kept' : 'no SVID yet'}, retrying`, { cause: error }));
      this.#schedule(Date.now() + retryDelay(this.ttl));
    }
  }

  /** Rotates at `due`, in steps no longer than Node's longest timer. */
  #schedule(due: number): void {
    if (this.closed) return;
    this.#due = due;
    const wait = (): void => {
      const left = due - Date.now();
      if (left <= 0) {
        this.#rotate();
        return;
      }
      this.#timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
      this.#timer.unref();
    };
    const left = due - Date.now();
    this.#timer = setTimeout(wait, Math.max(0, Math.min(left, MAX_TIMER_MS)));
    this.#timer.unref();
  }

  /** Stops rotating. */
  override async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#due = undefined;
    await super.close();
  }
}

/**
 * An identity source that issues this workload's SVIDs from a CA on disk and renews them
 * at about half their lifetime (Istio's default 24 h; `ttl: '2s'` in tests). For
 * development and tests: the CA's key must be readable by the process.
 *
 * ```ts
 * const identity = devIdentity({ caDir: './dev-ca', spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
 * ```
 */
export function devIdentity(options: DevIdentityOptions): DevIdentitySource {
  return new DevIdentitySource(options);
}
