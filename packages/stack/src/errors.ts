// Typed stack errors. Each carries what failed, where (context), and how to fix it (hint), so the deploy CLI prints a
// readable message and exits non-zero instead of a bare stack trace.

export interface StackErrorDetails {
  context?: Record<string, string | number | boolean | undefined>;
  hint?: string;
  /** The last lines of a log that explains the failure (a container, a validator). */
  logTail?: string;
  cause?: unknown;
}

export class StackError extends Error {
  readonly context: Record<string, string | number | boolean | undefined>;
  readonly hint: string | undefined;
  readonly logTail: string | undefined;

  constructor(message: string, details: StackErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
    this.logTail = details.logTail;
  }
}

/** The model is inconsistent (a route to a missing service, a default credential, a port bound beyond loopback...). */
export class ModelError extends StackError {}

/** An image could not be resolved to a digest from the lock file or the build report. */
export class ImageResolutionError extends StackError {}

/** The secrets file is unreadable, has loose permissions, or lacks a key. */
export class SecretsError extends StackError {}

/** An external command (docker, compose) failed. */
export class CommandFailedError extends StackError {}

/** Preflight found problems; every one of them is listed. */
export class PreflightError extends StackError {
  constructor(readonly problems: PreflightProblem[]) {
    super(`preflight found ${problems.length} problem(s); nothing was changed`, {
      hint: "fix every problem listed above, then deploy again",
    });
  }
}

export interface PreflightProblem {
  check: string;
  subject: string;
  message: string;
  hint?: string;
}

/** The stack did not reach healthy / smoke failed; carries what failed and whether a rollback happened. */
export class DeployFailedError extends StackError {}

/** Formats an error for a terminal: message, context, problems, log tail, hint. Never prints secrets (none are put in errors). */
export function formatError(err: unknown): string {
  if (err instanceof StackError) {
    const lines = [`error: ${err.message}`];
    if (err instanceof PreflightError) {
      for (const p of err.problems) {
        lines.push(`  - [${p.check}] ${p.subject}: ${p.message}${p.hint ? `\n      fix: ${p.hint}` : ""}`);
      }
    }
    for (const [key, value] of Object.entries(err.context)) {
      if (value !== undefined && value !== "") lines.push(`  ${key}: ${value}`);
    }
    if (err.logTail) {
      lines.push("  --- last lines ---");
      for (const line of err.logTail.trimEnd().split("\n")) lines.push(`  | ${line}`);
    }
    if (err.cause instanceof Error) lines.push(`  cause: ${err.cause.message}`);
    if (err.hint) lines.push(`  fix: ${err.hint}`);
    return lines.join("\n");
  }
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `error: unexpected failure in deploy (a bug; please report it with this output)\n${detail}`;
}

export function tail(text: string, lines = 25): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
