// The GitHub Actions view through @actions/core: groups, annotations with file/line, step outputs, setSecret (the
// runner masks too, but we mask before printing so nothing depends on the runner) and the job summary.
import * as core from "@actions/core";
import { formatSeconds, type Logger, type SourceLocation, type SummaryTable } from "./logger.js";
import { SecretMasker } from "./mask.js";

const annotation = (where?: SourceLocation): core.AnnotationProperties | undefined =>
  where?.file
    ? { file: where.file, startLine: where.line, startColumn: where.column, title: where.title }
    : where?.title
      ? { title: where.title }
      : undefined;

export class ActionsLogger implements Logger {
  readonly kind = "actions" as const;
  readonly masker: SecretMasker;

  constructor(masker: SecretMasker = new SecretMasker()) {
    this.masker = masker;
  }

  info(message: string): void {
    core.info(this.mask(message));
  }
  debug(message: string): void {
    core.debug(this.mask(message));
  }
  warn(message: string, where?: SourceLocation): void {
    core.warning(this.mask(message), annotation(where));
  }
  error(message: string, where?: SourceLocation): void {
    core.error(this.mask(message), annotation(where));
  }
  step(label: string): void {
    core.info(`▶ ${this.mask(label)}`);
  }
  progress(done: number, total: number, label: string): void {
    core.info(`(${done}/${total}) ${this.mask(label)}`);
  }
  async group<T>(title: string, fn: () => Promise<T>): Promise<T> {
    const start = Date.now();
    core.startGroup(this.mask(title));
    try {
      const result = await fn();
      core.info(`${this.mask(title)}: done in ${formatSeconds(Date.now() - start)}`);
      return result;
    } finally {
      core.endGroup();
    }
  }
  output(name: string, value: string): void {
    core.setOutput(name, this.mask(value));
  }
  secret(value: string | undefined): void {
    if (!value) return;
    this.masker.add(value);
    core.setSecret(value);
  }
  async summary(title: string, table: SummaryTable): Promise<void> {
    const rows = [table.header.map((data) => ({ data, header: true })), ...table.rows];
    const masked = rows.map((row) =>
      row.map((cell) => (typeof cell === "string" ? this.mask(cell) : { ...cell, data: this.mask(cell.data) })),
    );
    if (!process.env["GITHUB_STEP_SUMMARY"]) {
      // Outside a real job step (e.g. a local `act` run) there is no summary file: print the table instead.
      core.info(
        `${title}\n${masked.map((r) => r.map((c) => (typeof c === "string" ? c : c.data)).join(" | ")).join("\n")}`,
      );
      return;
    }
    await core.summary.addHeading(this.mask(title), 2).addTable(masked).write();
  }
  mask(text: string): string {
    return this.masker.mask(text);
  }
}
