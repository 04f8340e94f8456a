/**
 * Errors raised by the mesh. Each class has a stable `code` (`PROXYLESS_ERR_*`) that
 * programs can switch on, and a message that says what happened, to which service or
 * endpoint, and what to change.
 */

/** Base class of every error the mesh raises. */
export class ProxylessError extends Error {
  /** Stable machine-readable code, e.g. `PROXYLESS_ERR_INVALID_OPTION`. */
  readonly code: string;

  /** @param code stable code; @param message what happened and how to fix it */
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
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
