// Where the demo's text goes. On a terminal, the current table is a "live region" at
// the bottom of the screen, redrawn in place; anywhere else (a pipe, a file, a test)
// nothing is redrawn: a table is printed once, when it is final.

/** Writes lines, redrawing the live region when stdout is a terminal. */
export class Screen {
  /** True when stdout is a terminal: redraw in place, use colours (unless NO_COLOR is set). */
  readonly live: boolean;
  readonly color: boolean;
  readonly #out: NodeJS.WriteStream;
  /** Terminal rows the live region takes now (0: no live region). */
  #liveRows = 0;

  /** @param out usually `process.stdout` */
  constructor(out: NodeJS.WriteStream, env: NodeJS.ProcessEnv) {
    this.#out = out;
    this.live = out.isTTY === true;
    this.color = this.live && !env.NO_COLOR;
    if (this.live) this.#out.write('\x1b[?25l'); // hide the cursor while redrawing
  }

  /** Prints lines that stay (above any live region). */
  print(lines: readonly string[]): void {
    this.#clearLive();
    this.#out.write(lines.map((l) => `${l}\n`).join(''));
  }

  /** Replaces the live region with `lines`. Does nothing when not live. */
  update(lines: readonly string[]): void {
    if (!this.live) return;
    this.#clearLive();
    this.#out.write(lines.map((l) => `${l}\n`).join(''));
    this.#liveRows = lines.reduce((rows, line) => rows + this.#rowsOf(line), 0);
  }

  /** Prints the final version of the live region's content, which then stays. */
  commit(lines: readonly string[]): void {
    this.print(lines);
  }

  /** Shows the cursor again. Call before exiting. */
  restore(): void {
    if (this.live) this.#out.write('\x1b[?25h');
  }

  /** Moves the cursor to the top of the live region and erases it. */
  #clearLive(): void {
    if (this.#liveRows === 0) return;
    this.#out.write(`\x1b[${this.#liveRows}A\x1b[0J`);
    this.#liveRows = 0;
  }

  /** How many terminal rows a line takes, counting wrapping on a narrow terminal. */
  #rowsOf(line: string): number {
    const width = [...line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')].length;
    const columns = this.#out.columns || 80;
    return Math.max(1, Math.ceil(width / columns));
  }
}
