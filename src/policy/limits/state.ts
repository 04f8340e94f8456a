/**
 * What the limits layer reads and keeps per service, in the target's slot
 * {@link LIMITS_STATE}.
 *
 * @module
 */
import { stateKey } from '../../core/target.js';
import type { ConnectionPoolLimits } from './connection-pool.js';

/** The limits layer's per-service state (see {@link LIMITS_STATE}). */
export interface LimitsState {
  /** The connection-pool limits in force (read per request: a reload applies at once); undefined for none. */
  readonly limits: ConnectionPoolLimits | undefined;
  /** Requests in flight through the limits layer (counted only while limits are set); written by the layer. */
  activeRequests: number;
  /** How many requests the endpoints' connections carry at once (available endpoints × connections each); O(1). */
  connectionCapacity(): number;
}

/** The slot of a {@link ServiceTarget} holding its {@link LimitsState}. */
export const LIMITS_STATE = stateKey<LimitsState>('limits');
