/** One thing that happened in the mesh, as the dashboard and `/events` show it. */
export interface AdminEvent {
  /** When (epoch ms). */
  readonly at: number;
  /**
   * What: `config-applied`, `config-rejected`, `endpoint-ejected`, `endpoint-returned`,
   * `endpoint-unhealthy`, `endpoint-healthy`, `circuit-open`, `circuit-half-open`,
   * `circuit-closed`, `discovery-error`, `services-evicted`, `certificate-rotated`.
   */
  readonly kind: string;
  /** In words. */
  readonly message: string;
  /** The service (`fqdn:port`) it is about, if any. */
  readonly service?: string;
}

/** The last {@link EventLog.SIZE} events, oldest dropped first. */
export class EventLog {
  /** How many events are kept. */
  static readonly SIZE = 200;
  /** Longest message kept (a hostile config error could be long). */
  static readonly MAX_MESSAGE = 1000;
  readonly #events: AdminEvent[] = [];
  /** Events added so far (the dashboard asks for those after the last it saw). */
  #count = 0;

  /** Adds an event. */
  add(kind: string, message: string, service?: string): void {
    const text = message.length > EventLog.MAX_MESSAGE ? `${message.slice(0, EventLog.MAX_MESSAGE)}…` : message;
    this.#events.push(service === undefined ? { at: Date.now(), kind, message: text } : { at: Date.now(), kind, message: text, service });
    this.#count++;
    if (this.#events.length > EventLog.SIZE) this.#events.shift();
  }

  /** Events added so far. */
  get count(): number {
    return this.#count;
  }

  /** The events kept, oldest first; with `since` (a {@link EventLog.count}), only those added after it. */
  list(since = 0): AdminEvent[] {
    const newer = this.#count - since;
    if (newer <= 0) return [];
    return this.#events.slice(-Math.min(newer, this.#events.length));
  }
}
