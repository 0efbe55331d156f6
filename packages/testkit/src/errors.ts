// Typed testkit errors: what failed, where (context), how to fix it (hint), and, for a stack that would not come up,
// each service's state and log tail. Nothing here may carry a secret: callers pass masked text.

export interface TestkitErrorDetails {
  context?: Record<string, string | number | boolean | undefined>;
  hint?: string;
  /** Per-service states and log tails (masked), attached to the test output on failure. */
  diagnostics?: string;
  cause?: unknown;
}

export class TestkitError extends Error {
  readonly context: Record<string, string | number | boolean | undefined>;
  readonly hint: string | undefined;
  readonly diagnostics: string | undefined;

  constructor(message: string, details: TestkitErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
    this.diagnostics = details.diagnostics;
  }
}

/** The inputs of a run (lab, lock, mirror, build report) are missing or unusable. */
export class InputsError extends TestkitError {}

/** The stack did not come up healthy. */
export class StackStartError extends TestkitError {}

/** A step against the running stack (upload, DAG run, query) failed or timed out. */
export class StepError extends TestkitError {}

/** One readable block: message, context, hint, diagnostics. */
export function formatTestkitError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const lines = [`${err.name}: ${err.message}`];
  // Typed errors of the other packages carry context and a hint the same way (PipelineError, StackError).
  const detailed = err as Error & {
    context?: Record<string, unknown>;
    hint?: string;
    diagnostics?: string;
    logTail?: string;
  };
  for (const [k, v] of Object.entries(detailed.context ?? {})) if (v !== undefined) lines.push(`  ${k}: ${v}`);
  if (detailed.hint) lines.push(`  hint: ${detailed.hint}`);
  if (detailed.diagnostics) lines.push(detailed.diagnostics);
  if (detailed.logTail) lines.push(detailed.logTail);
  if (err.cause instanceof Error) lines.push(`  cause: ${err.cause.message}`);
  return lines.join("\n");
}
