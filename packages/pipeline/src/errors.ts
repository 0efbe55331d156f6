// Typed errors for the pipelines. Each carries what failed, where (context) and how to fix it (hint), so an entry
// point can print one readable message and exit non-zero. Nothing here may carry a secret: callers pass masked text.

export interface ErrorDetails {
  context?: Record<string, string | number | boolean | undefined>;
  hint?: string | undefined;
  cause?: unknown;
}

export class PipelineError extends Error {
  readonly context: Record<string, string | number | boolean | undefined>;
  readonly hint: string | undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
  }
}

/** Bad configuration: an argument, an environment variable or lab.json. */
export class ConfigError extends PipelineError {}

/** A process exited non-zero (or could not start). The command line is already masked. */
export class ExecError extends PipelineError {
  readonly command: string;
  readonly exitCode: number | null;
  /** The last lines of the process's combined output, masked. */
  readonly tail: string[];

  constructor(message: string, command: string, exitCode: number | null, tail: string[], details: ErrorDetails = {}) {
    super(message, { ...details, context: { command, exitCode: exitCode ?? "none", ...details.context } });
    this.command = command;
    this.exitCode = exitCode;
    this.tail = tail;
  }
}

/** An engine could not build or publish; `step` names the failing build step when the engine told us. */
export class EngineError extends PipelineError {
  readonly engine: string;
  readonly step: string | undefined;
  readonly tail: string[];

  constructor(message: string, engine: string, step: string | undefined, tail: string[], details: ErrorDetails = {}) {
    super(message, { ...details, context: { engine, step, ...details.context } });
    this.engine = engine;
    this.step = step;
    this.tail = tail;
  }
}

/** A registry call failed (status and operation in the context). */
export class RegistryError extends PipelineError {}

/** The inputs of a build are wrong: a missing Dockerfile, a base missing from the lock, an unreadable context. */
export class BuildInputError extends PipelineError {}

/** Renders an error for a person: message, context, hint, and the cause chain. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const lines = [`${error.name}: ${error.message}`];
  if (error instanceof PipelineError) {
    for (const [key, value] of Object.entries(error.context)) {
      if (value !== undefined) lines.push(`  ${key}: ${value}`);
    }
    if (error.hint) lines.push(`  how to fix: ${error.hint}`);
  }
  let cause = error.cause;
  while (cause instanceof Error) {
    lines.push(`  caused by ${cause.name}: ${cause.message}`);
    cause = cause.cause;
  }
  return lines.join("\n");
}
