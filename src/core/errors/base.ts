/**
 * Errors raised by the mesh. Each class has a stable `code` (`PROXYLESS_ERR_*`) that
 * programs can switch on, and a message that says what happened, to which service or
 * endpoint, and what to change.
 */

/** What a {@link ProxylessError} carries besides its message: the cause, the service, the status. */
export interface ProxylessErrorOptions extends ErrorOptions {
  /** The service the error is about (its host as the request or route wrote it, e.g. `reviews`), when there is one. */
  readonly service?: string | undefined;
  /** The HTTP status a sidecar would have answered with, when the error stands for a response. */
  readonly statusCode?: number | undefined;
}

/**
 * Base class of every error the mesh raises. Each has a `code`, names the service it is
 * about in `service` (undefined when it is about none: an option, the mesh itself, a
 * certificate) and, when it stands for a response a sidecar would have sent (overload,
 * timeout, open circuit, no healthy upstream), that response's `statusCode`.
 *
 * Through `fetch` (the platform's, or `mesh.fetch`) these errors arrive as the
 * `cause` of a `TypeError: fetch failed`: {@link isProxylessError} and
 * {@link proxylessErrorOf} look through it.
 */
export class ProxylessError extends Error {
  /** Stable machine-readable code, e.g. `PROXYLESS_ERR_INVALID_OPTION`. */
  readonly code: string;
  /** The service the error is about: its host as the request or route wrote it (`reviews`); undefined when none. */
  readonly service: string | undefined;
  /** The HTTP status a sidecar would have answered with (503, 504, ...); undefined when no response is implied. */
  readonly statusCode: number | undefined;

  /** @param code stable code; @param message what happened and how to fix it; @param options cause, service and status */
  constructor(code: string, message: string, options?: ProxylessErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.service = options?.service;
    this.statusCode = options?.statusCode;
  }
}

/** How deep {@link proxylessErrorOf} follows `cause` links (a cycle or a long chain ends there). */
const MAX_CAUSE_DEPTH = 8;

/**
 * The {@link ProxylessError} behind `error`: the error itself, or the first one found
 * following `cause` links (at most 8 deep, so a cycle ends), as in the
 * `TypeError: fetch failed` that `fetch` throws with the mesh's error as its cause, or an
 * `AggregateError`'s errors. Undefined when there is none.
 *
 * ```ts
 * try { await mesh.fetch('http://reviews/'); }
 * catch (e) { const err = proxylessErrorOf(e); if (err?.statusCode === 503) ... }
 * ```
 */
export function proxylessErrorOf(error: unknown): ProxylessError | undefined {
  return find(error, 0);
}

function find(error: unknown, depth: number): ProxylessError | undefined {
  if (error instanceof ProxylessError) return error;
  if (depth >= MAX_CAUSE_DEPTH || error === null || typeof error !== 'object') return undefined;
  if (error instanceof AggregateError) {
    for (const inner of error.errors.slice(0, MAX_CAUSE_DEPTH)) {
      const found = find(inner, depth + 1);
      if (found) return found;
    }
  }
  return find((error as { cause?: unknown }).cause, depth + 1);
}

/**
 * Whether `error` is, or was caused by, a {@link ProxylessError} (see
 * {@link proxylessErrorOf}, which returns it), optionally one with the given `code`.
 * True for the `TypeError: fetch failed` that `fetch` throws when the mesh refused or
 * failed the request.
 */
export function isProxylessError(error: unknown, code?: string): boolean {
  const found = find(error, 0);
  return found !== undefined && (code === undefined || found.code === code);
}

/** An option passed to a factory (`createMesh`, `staticEndpoints`, a layer) is invalid. */
export class InvalidOptionError extends ProxylessError {
  /** Every problem found, one line each: `field: value (expected: ...)`. */
  readonly problems: readonly string[];

  /** @param where the call that received the options, e.g. `createMesh` */
  constructor(where: string, problems: readonly string[]) {
    super(
      'PROXYLESS_ERR_INVALID_OPTION',
      `${where}: invalid option${problems.length > 1 ? 's' : ''}:\n  ${problems.join('\n  ')}`,
    );
    this.problems = problems;
  }
}

/**
 * One finding about mesh config: an error (the config is refused), a warning (it loads,
 * but a field is not applied or does something you may not expect) or a note (a
 * resource that is not mesh config, such as a Deployment, was skipped).
 */
export interface ConfigDiagnostic {
  /** How it counts. */
  readonly severity: 'error' | 'warning' | 'note';
  /** Where: `VirtualService/reviews (mesh.yaml#2)`, or an origin (`mesh.yaml:4:1`); '' when unknown. */
  readonly where: string;
  /**
   * The field path inside the resource, in one format for errors and warnings alike:
   * `spec.http[0].match[0].headers["@request.auth.claims.group"]` (keys joined with `.`,
   * list positions `[i]`, keys that are not plain identifiers quoted in brackets); '' when
   * the finding is about the whole resource or text.
   */
  readonly path: string;
  /** What is wrong (the value) and what is expected, or what happens instead. */
  readonly message: string;
}

/** A diagnostic as one line: `where: path: message`. */
export function renderDiagnostic(d: ConfigDiagnostic): string {
  return [d.where, d.path, d.message].filter((part) => part !== '').join(': ');
}

/** A mesh config resource (DestinationRule, ...) is invalid. */
export class InvalidConfigError extends ProxylessError {
  /** Every problem found, one line each, naming the document and field path. */
  readonly problems: readonly string[];
  /**
   * Every finding, errors first: the problems with their field paths apart, then the
   * warnings and notes of the same config (shown with the errors, so fixing one does not
   * hide the other).
   */
  readonly diagnostics: readonly ConfigDiagnostic[];
  /** The warnings of the same config, one line each (see {@link InvalidConfigError.diagnostics}). */
  readonly warnings: readonly string[];

  /**
   * @param problems one line each (`DestinationRule/reviews: spec.host: ...`), or diagnostics
   * @param options `cause`: an unexpected error behind the problems; `warnings`: findings
   *   that are not errors, kept for the reader
   */
  constructor(problems: readonly (string | ConfigDiagnostic)[], options?: ErrorOptions & { warnings?: readonly ConfigDiagnostic[] }) {
    const errors = problems.map((p): ConfigDiagnostic => (typeof p === 'string' ? { severity: 'error', where: '', path: '', message: p } : p));
    const lines = errors.map(renderDiagnostic);
    super('PROXYLESS_ERR_INVALID_CONFIG', `invalid mesh config:\n  ${lines.join('\n  ')}`, options);
    this.problems = lines;
    this.diagnostics = [...errors, ...(options?.warnings ?? [])];
    this.warnings = (options?.warnings ?? []).filter((d) => d.severity === 'warning').map(renderDiagnostic);
  }
}
