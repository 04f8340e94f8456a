/**
 * The policies that guard one service and run on their own timers: outlier detection
 * (with its sweep), active health checks and the circuit breaker. Each is made (or
 * dropped) for the settings in force, and starts afresh when its settings change, as
 * Envoy does when a cluster's settings change.
 *
 * @module
 */
import type { buildConnector } from 'undici';
import { ServiceBreaker, type BreakerSettings } from '../policy/breaker/index.js';
import { HealthChecker, type EndpointHealth, type HealthCheckerOptions, type HealthCheckSettings } from '../policy/health-check/index.js';
import { OutlierDetector, type OutlierSettings } from '../policy/outlier/index.js';
import type { EndpointState } from './endpoint-state.js';
import { checkConnector } from './service-context.js';

/** What the guards need from their service. */
export interface GuardedService {
  /** The service's host name (the breaker and the checks name it). */
  readonly host: string;
  /** The service's endpoints now. */
  endpoints(): readonly EndpointState[];
  /** A breaker was made: the mesh hears its transitions. */
  onBreaker(breaker: ServiceBreaker): void;
  /** An endpoint's active health changed (read by the service: telemetry, events, waiting requests). */
  onHealthChange: NonNullable<HealthCheckerOptions<EndpointState>['onChange']>;
}

/** See the module comment. */
export class ServiceGuards {
  readonly #service: GuardedService;
  #outlierDetector: OutlierDetector<EndpointState> | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #healthChecker: HealthChecker<EndpointState> | undefined;
  #breaker: ServiceBreaker | undefined;
  /** The panic state last seen by {@link ServiceGuards.panicChanged}. */
  #lastPanic = false;

  constructor(service: GuardedService) {
    this.#service = service;
  }

  /** The outlier detector, when the DestinationRule sets `outlierDetection`. */
  get outlierDetector(): OutlierDetector<EndpointState> | undefined {
    return this.#outlierDetector;
  }

  /** The service-level circuit breaker, when the DestinationRule's annotation sets one. */
  get breaker(): ServiceBreaker | undefined {
    return this.#breaker;
  }

  /** True while ejections are ignored (`minHealthPercent` panic threshold). */
  get panic(): boolean {
    return this.#outlierDetector?.panic === true;
  }

  /** Whether the panic state changed since the last call (each endpoint's availability then changes). */
  panicChanged(): boolean {
    const panic = this.panic;
    if (panic === this.#lastPanic) return false;
    this.#lastPanic = panic;
    return true;
  }

  /** Each endpoint's active health check state, or undefined without health checks (for the admin page). */
  healthStatus(): EndpointHealth[] | undefined {
    return this.#healthChecker?.status();
  }

  /** The service's endpoint set changed: the health checks follow it. */
  endpointsChanged(endpoints: readonly EndpointState[]): void {
    this.#healthChecker?.setEndpoints(endpoints);
  }

  /** Makes (or drops) the outlier detector for the settings in force, with a sweep every interval. */
  setOutlier(settings: OutlierSettings | undefined): void {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    // Before the detector is replaced: each endpoint's availability reads the panic state of the one in force.
    for (const endpoint of this.#service.endpoints()) endpoint.ejected = false;
    this.#outlierDetector = settings ? new OutlierDetector<EndpointState>(settings) : undefined;
    this.#lastPanic = false;
    if (!this.#outlierDetector) return;
    for (const endpoint of this.#service.endpoints()) this.#outlierDetector.add(endpoint);
    const detector = this.#outlierDetector;
    this.#sweepTimer = setInterval(() => detector.sweep(performance.now()), settings!.intervalMs);
    this.#sweepTimer.unref();
  }

  /**
   * Starts (or stops) active health checks for the settings in force; `connector` is the
   * traffic's TLS (trust, client certificate, SNI) for https:// services.
   */
  setHealthCheck(settings: HealthCheckSettings | undefined, connector: buildConnector.connector | undefined): void {
    void this.#healthChecker?.close();
    this.#healthChecker = undefined;
    const service = this.#service;
    for (const endpoint of service.endpoints()) endpoint.unhealthy = false;
    if (!settings) return;
    this.#healthChecker = new HealthChecker<EndpointState>({
      settings,
      service: service.host,
      tls: connector === undefined ? undefined : { connect: checkConnector(connector, service.host) },
      onChange: service.onHealthChange,
    });
    this.#healthChecker.setEndpoints(service.endpoints());
  }

  /** Makes (or drops) the breaker for the settings in force; the service hears of a new one. */
  setBreaker(settings: BreakerSettings | undefined): void {
    this.#breaker?.close();
    this.#breaker = undefined;
    if (!settings) return;
    this.#breaker = new ServiceBreaker(this.#service.host, settings);
    this.#service.onBreaker(this.#breaker);
  }

  /**
   * Stops every timer (the outlier sweep, the breaker's windows: opossum runs intervals
   * per breaker, a closed service must not leave them behind); resolves when the health
   * checks have stopped (undefined without them).
   */
  close(): Promise<void> | undefined {
    if (this.#sweepTimer !== undefined) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    this.#breaker?.close();
    return this.#healthChecker?.close();
  }
}
