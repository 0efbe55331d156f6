// The terminal view: every line carries the elapsed time since the pipeline started; steps and groups are marked;
// colours only on a TTY (plain lines in files and CI logs that are not Actions).
import type { Writable } from "node:stream";
import {
  formatSeconds,
  type Logger,
  renderTable,
  type SourceLocation,
  type SummaryTable,
  withLocation,
} from "./logger.js";
import { SecretMasker } from "./mask.js";

const COLOURS = {
  dim: "\x1b[2m",
  bold: "\x1b[1m",
  yellow: "\x1b[33m",
  red: "\x1b[31m",
  cyan: "\x1b[36m",
  reset: "\x1b[0m",
};
type Colour = keyof typeof COLOURS;

export interface TerminalLoggerOptions {
  out?: Writable & { isTTY?: boolean };
  verbose?: boolean;
  masker?: SecretMasker;
  now?: () => number;
}

export class TerminalLogger implements Logger {
  readonly kind = "terminal" as const;
  readonly masker: SecretMasker;
  readonly #out: Writable & { isTTY?: boolean };
  readonly #tty: boolean;
  readonly #verbose: boolean;
  readonly #now: () => number;
  readonly #started: number;
  #depth = 0;

  constructor(options: TerminalLoggerOptions = {}) {
    this.#out = options.out ?? process.stderr;
    this.#tty = Boolean(this.#out.isTTY) && !process.env["NO_COLOR"];
    this.#verbose = options.verbose ?? Boolean(process.env["E2E3D_VERBOSE"]);
    this.masker = options.masker ?? new SecretMasker();
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
  }

  #paint(colour: Colour, text: string): string {
    return this.#tty ? `${COLOURS[colour]}${text}${COLOURS.reset}` : text;
  }

  #write(text: string, colour?: Colour): void {
    const stamp = `[${formatSeconds(this.#now() - this.#started).padStart(6)}]`;
    const indent = "  ".repeat(this.#depth);
    for (const line of this.masker.mask(text).split("\n")) {
      const body = colour ? this.#paint(colour, line) : line;
      this.#out.write(`${this.#paint("dim", stamp)} ${indent}${body}\n`);
    }
  }

  info(message: string): void {
    this.#write(message);
  }
  debug(message: string): void {
    if (this.#verbose) this.#write(message, "dim");
  }
  warn(message: string, where?: SourceLocation): void {
    this.#write(`warning: ${withLocation(message, where)}`, "yellow");
  }
  error(message: string, where?: SourceLocation): void {
    this.#write(`error: ${withLocation(message, where)}`, "red");
  }
  step(label: string): void {
    this.#write(`▶ ${label}`, "cyan");
  }
  progress(done: number, total: number, label: string): void {
    this.#write(`(${done}/${total}) ${label}`, "bold");
  }

  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const start = this.#now();
    this.#write(`┌ ${title}`, "bold");
    this.#depth++;
    try {
      const result = await fn();
      this.#depth--;
      this.#write(`└ ${title}: done in ${formatSeconds(this.#now() - start)}`, "bold");
      return result;
    } catch (error) {
      this.#depth--;
      this.#write(`└ ${title}: failed after ${formatSeconds(this.#now() - start)}`, "red");
      throw error;
    }
  }

  output(name: string, value: string): void {
    this.#write(`output ${name}=${value}`);
  }
  secret(value: string | undefined): void {
    this.masker.add(value);
  }
  async summary(title: string, table: SummaryTable): Promise<void> {
    this.#write(`${title}\n${renderTable(table)}`, "bold");
  }
  mask(text: string): string {
    return this.masker.mask(text);
  }
}
