// Errors of the stack's user-facing client (pipelines/reconstruct.ts, the deploy's smoke job). Same shape as every
// stack error: what failed, where (context), how to fix it (hint), and the log tail that explains it.
import { StackError } from "../errors.js";

/** Something the client asked of a deployed stack failed (unreachable, refused, a run that failed). */
export class UseError extends StackError {}

/** The user's input is unusable (a folder, an argument): nothing was uploaded or started. Exit code 2. */
export class InputError extends UseError {}

/** A reconstruction run failed; `stage` names where (a DAG task, the job's own stage, or a client step). */
export class RunFailedError extends UseError {
  constructor(
    readonly stage: string,
    message: string,
    details: ConstructorParameters<typeof StackError>[1] = {},
  ) {
    super(message, details);
  }
}
