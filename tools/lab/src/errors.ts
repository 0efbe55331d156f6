// Typed lab errors. Each carries what failed, the context it failed in, and how to fix it, so the CLI can print
// a readable message (never a bare stack trace) and exit non-zero.

export interface LabErrorDetails {
  /** Where it happened: the step, the command, the port, the file. */
  context?: Record<string, string | number | undefined>;
  /** What the user can do about it. */
  hint?: string;
  /** The last lines of a log that explains the failure (debootstrap, apt, dockerd...). */
  logTail?: string;
  cause?: unknown;
}

export class LabError extends Error {
  readonly context: Record<string, string | number | undefined>;
  readonly hint: string | undefined;
  readonly logTail: string | undefined;

  constructor(message: string, details: LabErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
    this.logTail = details.logTail;
  }
}

/** No Docker engine answers and the lab may not (or cannot) install and start one. */
export class EngineUnavailableError extends LabError {}

/** A package the lab needs is missing and cannot be installed here. */
export class MissingPackageError extends LabError {}

/** A TCP port the lab needs is already taken by something the lab did not start. */
export class PortTakenError extends LabError {
  constructor(
    readonly port: number,
    what: string,
    owner: string | undefined,
  ) {
    super(`port ${port} (${what}) is already taken${owner ? ` by ${owner}` : ""}`, {
      context: { port, what, owner },
      hint: `stop whatever listens on 127.0.0.1:${port}, or point the lab elsewhere with E2E3D_UPSTREAM_REGISTRY / E2E3D_PRIVATE_REGISTRY (e.g. 127.0.0.1:6101)`,
    });
  }
}

/** An external command failed; carries its exit status and the tail of its output or log file. */
export class CommandFailedError extends LabError {}

/** Something did not become ready before its deadline. */
export class TimeoutError extends LabError {}

/** Compose could be neither built nor installed. */
export class ComposeUnavailableError extends LabError {}

/** lab.json is missing or does not parse. */
export class LabStateError extends LabError {}

/** Bad configuration (environment variables, files). */
export class LabConfigError extends LabError {}

/** Formats any error for a terminal: message, context, log tail and hint; a stack only for non-lab bugs. */
export function formatError(err: unknown): string {
  if (err instanceof LabError) {
    const lines = [`error: ${err.message}`];
    const context = Object.entries(err.context).filter(([, v]) => v !== undefined && v !== "");
    for (const [key, value] of context) lines.push(`  ${key}: ${value}`);
    if (err.logTail) {
      lines.push("  --- last lines of the log ---");
      for (const line of err.logTail.trimEnd().split("\n")) lines.push(`  | ${line}`);
    }
    if (err.cause instanceof Error) lines.push(`  cause: ${err.cause.message}`);
    if (err.hint) lines.push(`  fix: ${err.hint}`);
    return lines.join("\n");
  }
  // An unexpected error is a bug in the lab: say so, and keep the stack for whoever fixes it.
  const detail = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return `error: unexpected failure in the lab (a bug; please report it with this output)\n${detail}`;
}

/** Last `lines` lines of a text, for log tails in errors. */
export function tail(text: string, lines = 25): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).join("\n");
}
