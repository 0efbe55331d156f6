// Step runner for `up`: prints each step's name, what it did and how long it took, and records whether it did
// any work, so a second `up` can prove (in lab.json) that nothing was redone.

export interface StepOutcome<T> {
  value: T;
  /** True when the step changed something (installed, started, built, pushed); false when all was in place. */
  changed: boolean;
  /** One line for the terminal, e.g. "already running" or "built in 212s". */
  detail: string;
}

export interface StepRecord {
  name: string;
  changed: boolean;
  detail: string;
  seconds: number;
}

export type Log = (line: string) => void;

export class Progress {
  readonly steps: StepRecord[] = [];
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly write: Log = (line) => process.stderr.write(`${line}\n`),
  ) {}

  /** A log function for work inside the current step: lines are indented and carry the elapsed time. */
  readonly log: Log = (line) => this.write(`    ${this.elapsed()} ${line}`);

  private elapsed(): string {
    return `[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)}s]`;
  }

  async step<T>(name: string, body: () => Promise<StepOutcome<T>>): Promise<T> {
    const index = this.steps.length + 1;
    const stepStart = Date.now();
    this.write(`${this.elapsed()} [${index}/${this.total}] ${name} ...`);
    const outcome = await body();
    const seconds = (Date.now() - stepStart) / 1000;
    this.steps.push({ name, changed: outcome.changed, detail: outcome.detail, seconds });
    const mark = outcome.changed ? "done" : "ok";
    this.write(
      `${this.elapsed()} [${index}/${this.total}] ${name}: ${mark}, ${outcome.detail} (${seconds.toFixed(1)}s)`,
    );
    return outcome.value;
  }
}
