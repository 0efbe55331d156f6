// One logging interface for every pipeline. Two implementations: GitHub Actions (groups, annotations, outputs,
// masking, job summary through @actions/core) and a terminal view (step, progress, elapsed). Both mask every secret
// registered with `secret()` in everything they print.
import type { SecretMasker } from "./mask.js";

/** Where a message points: annotations in Actions, "file:line" prefixes in the terminal. */
export interface SourceLocation {
  file?: string | undefined;
  line?: number | undefined;
  column?: number | undefined;
  title?: string | undefined;
}

export type SummaryTable = { header: string[]; rows: string[][] };

export interface Logger {
  readonly kind: "actions" | "terminal";
  readonly masker: SecretMasker;
  info(message: string): void;
  debug(message: string): void;
  warn(message: string, where?: SourceLocation): void;
  error(message: string, where?: SourceLocation): void;
  /** Announces the next step of the current work (e.g. "push e2e3d/airflow"). */
  step(label: string): void;
  /** How far a counted piece of work has got (e.g. image 2 of 3). */
  progress(done: number, total: number, label: string): void;
  /** Runs `fn` inside a named, timed section: a collapsible group in Actions, a header with elapsed time otherwise. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** A named output for later steps (Actions step output; printed in the terminal). */
  output(name: string, value: string): void;
  /** Registers a secret: masked in everything printed from now on (and by the Actions runner). */
  secret(value: string | undefined): void;
  /** A titled table: the job summary in Actions, an aligned table in the terminal. */
  summary(title: string, table: SummaryTable): Promise<void>;
  /** Masks secrets in text that leaves the logger some other way (errors, reports). */
  mask(text: string): string;
}

/** Formats "file:line:col: message" when a location is known. */
export function withLocation(message: string, where?: SourceLocation): string {
  if (!where?.file) return message;
  const line = where.line === undefined ? "" : `:${where.line}${where.column === undefined ? "" : `:${where.column}`}`;
  return `${where.file}${line}: ${message}`;
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${(s % 60).toFixed(0).padStart(2, "0")}s`;
}

/** Aligned plain-text table (terminal summaries, error output). */
export function renderTable(table: SummaryTable): string {
  const all = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(table.header), widths.map((w) => "-".repeat(w)).join("  "), ...table.rows.map(line)].join("\n");
}
