/**
 * The circuit breaker's public types: its states, outcomes, counters, events and the
 * snapshot that carries its state across a restart (with the schema an import checks).
 *
 * @module
 */
import * as z from 'zod';
import type { FailCondition } from './settings.js';

/** A breaker's state: `closed` lets requests through, `open` refuses them, `half-open` lets probes through one at a time. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** How one request counts: see {@link FailCondition}. */
export type BreakerOutcome = 'success' | 'failure' | 'neither';

/** The counters of the rolling window (opossum's). `fires` counts every request asked about, refused ones included. */
export interface BreakerStats {
  /** Requests asked about (admitted or refused). */
  readonly fires: number;
  /** Requests that counted as successes. */
  readonly successes: number;
  /** Requests that counted as failures. */
  readonly failures: number;
  /**
   * Requests opossum refused: while open, and while in its half-open with the probe in
   * flight. (Refusals after the first probe success, when `halfOpenSuccesses` > 1, are
   * ours and not counted here.)
   */
  readonly rejects: number;
}

/** The `open` event: the breaker opened (from closed, or again from half-open). */
export interface BreakerOpenEvent {
  /** The service. */
  readonly service: string;
  /** When it opened, ms since the epoch. */
  readonly openedAt: number;
  /** When it will go half-open, ms since the epoch. */
  readonly retryAt: number;
  /** The window's counters when it opened. */
  readonly stats: BreakerStats;
}

/** The `halfOpen` event: `resetTimeout` passed; probe requests go through, one at a time. */
export interface BreakerHalfOpenEvent {
  /** The service. */
  readonly service: string;
  /** Probe successes in a row needed to close (`halfOpenSuccesses`). */
  readonly successesNeeded: number;
}

/** The `close` event: enough probes succeeded; requests flow again. */
export interface BreakerCloseEvent {
  /** The service. */
  readonly service: string;
}

/** The events of {@link ServiceBreaker.events}, each with one argument. */
export interface BreakerEvents {
  /** The breaker opened. */
  open: [event: BreakerOpenEvent];
  /** The breaker went half-open. */
  halfOpen: [event: BreakerHalfOpenEvent];
  /** The breaker closed after `halfOpenSuccesses` probe successes. */
  close: [event: BreakerCloseEvent];
}

/**
 * A breaker's state as plain JSON, from `ServiceBreaker.exportState`, for
 * `ServiceBreaker.importState` in a restarted process.
 */
export interface BreakerSnapshot {
  /** Format version: 1. */
  readonly version: 1;
  /** The service the breaker guards. */
  readonly service: string;
  /** The state when the snapshot was taken. */
  readonly state: BreakerState;
  /** When the breaker last opened (ms since the epoch), or null when closed. */
  readonly openedAt: number | null;
  /** Half-open: probe successes still needed to close; otherwise 0. */
  readonly successesNeeded: number;
  /** When the snapshot was taken, ms since the epoch. */
  readonly takenAt: number;
  /** The rolling window's length in ms when it was taken. */
  readonly windowMs: number;
  /** The rolling window's counters when it was taken. */
  readonly stats: BreakerStats;
}

export const statsSchema = z.strictObject({
  fires: z.int().min(0),
  successes: z.int().min(0),
  failures: z.int().min(0),
  rejects: z.int().min(0),
});

export const snapshotSchema = z
  .strictObject({
    version: z.literal(1),
    service: z.string().min(1),
    state: z.enum(['closed', 'open', 'half-open']),
    openedAt: z.number().nullable(),
    successesNeeded: z.int().min(0),
    takenAt: z.number(),
    windowMs: z.number().min(0),
    stats: statsSchema,
  })
  .superRefine((s, ctx) => {
    if (s.state !== 'closed' && s.openedAt === null) {
      ctx.addIssue({ code: 'custom', path: ['openedAt'], input: null, message: 'a time in ms since the epoch when state is "open" or "half-open"' });
    }
  });
