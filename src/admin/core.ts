import type { AdminMesh, MeshAdminView } from './mesh-view.js';
import { lifecycleOf } from '../inbound/lifecycle.js';
import { EventLog } from './events.js';
import { dashboardFrame, type DashboardFrame } from './frame.js';
import type { ResolvedAdminOptions } from './options.js';
import { Sampler } from './sampler.js';
import { sseEvent, StreamHub } from './streams.js';

/**
 * What one admin server (or mounted handler) runs: the sampler on its timer, the event
 * log fed by the mesh's events, and the dashboard streams. The frame is built once a
 * tick, only while a stream is open (or when `/dashboard/frame` asks), and the same
 * text goes to every stream.
 */
export class AdminCore {
  readonly options: ResolvedAdminOptions;
  readonly view: MeshAdminView;
  readonly events = new EventLog();
  readonly sampler: Sampler;
  readonly hub: StreamHub;
  /** When the identity last rotated (epoch ms). */
  lastRotation: number | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #unsubscribe: Array<() => void> = [];
  #frame: DashboardFrame | undefined;

  constructor(mesh: AdminMesh, options: ResolvedAdminOptions) {
    this.options = options;
    this.view = mesh.adminView();
    this.sampler = new Sampler(this.view, this.events);
    // Readiness starts being watched now, so `/ready` answers from the first request.
    lifecycleOf(mesh);
    this.hub = new StreamHub(options.maxStreams);
    this.#listen(mesh);
    this.#timer = setInterval(() => this.#tick(), options.intervalMs);
    this.#timer.unref();
  }

  /** The latest frame (built now if no stream made one this tick). */
  frame(): DashboardFrame {
    return (this.#frame ??= dashboardFrame(this.view, this.sampler, this.events));
  }

  #tick(): void {
    if (this.view.closed()) return;
    try {
      this.sampler.tick();
      this.#frame = undefined;
      if (this.hub.size > 0) this.hub.send(sseEvent('frame', this.frame()));
    } catch (error) {
      // A timer's exception would end the process: the admin is not worth that.
      process.emitWarning(`admin sampler: ${(error as Error)?.message ?? String(error)}`, { code: 'PROXYLESS_W_ADMIN' });
    }
  }

  /** Mesh events (and the identity's rotations) become dashboard events. */
  #listen(mesh: AdminMesh): void {
    const on = <A extends unknown[]>(event: string, listener: (...args: A) => void): void => {
      (mesh as unknown as NodeJS.EventEmitter).on(event, listener as (...args: unknown[]) => void);
      this.#unsubscribe.push(() => (mesh as unknown as NodeJS.EventEmitter).off(event, listener as (...args: unknown[]) => void));
    };
    const e = this.events;
    on('configApplied', (info: { source: string; resources: number; warnings: readonly string[] }) =>
      e.add('config-applied', `config from ${info.source} applied: ${info.resources} resources, ${info.warnings.length} warnings`),
    );
    on('configError', (error: Error, source: string) => e.add('config-rejected', `config from ${source} rejected (the last good one stays): ${error.message}`));
    on('circuitOpen', (info: { service: string }) => e.add('circuit-open', `circuit of ${info.service} opened`, info.service));
    on('circuitHalfOpen', (info: { service: string }) => e.add('circuit-half-open', `circuit of ${info.service} half-open: probing`, info.service));
    on('circuitClose', (info: { service: string }) => e.add('circuit-closed', `circuit of ${info.service} closed`, info.service));
    on('discoveryError', (error: Error, source: string) => e.add('discovery-error', `discovery source ${source}: ${error.message}`));
    on('servicesEvicted', (info: { services: readonly string[] }) => e.add('services-evicted', `${info.services.length} idle services evicted (maxServices)`));
    const identity = this.options.identity;
    if (identity) {
      const rotated = (svid: { spiffeId: { toString(): string }; notAfter: Date }): void => {
        this.lastRotation = Date.now();
        e.add('certificate-rotated', `certificate of ${svid.spiffeId.toString()} rotated, valid until ${svid.notAfter.toISOString()}`);
      };
      identity.on('rotated', rotated);
      this.#unsubscribe.push(() => identity.off('rotated', rotated));
    }
  }

  /** Stops the timer, ends the streams, stops listening to the mesh. */
  close(): void {
    clearInterval(this.#timer);
    this.hub.close();
    for (const off of this.#unsubscribe.splice(0)) off();
  }
}
