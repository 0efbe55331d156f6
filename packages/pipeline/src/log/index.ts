import { ActionsLogger } from "./actions.js";
import type { Logger } from "./logger.js";
import { TerminalLogger, type TerminalLoggerOptions } from "./terminal.js";

export { ActionsLogger } from "./actions.js";
export type { Logger, SourceLocation, SummaryTable } from "./logger.js";
export { formatSeconds, renderTable, withLocation } from "./logger.js";
export { SecretMasker } from "./mask.js";
export { TerminalLogger, type TerminalLoggerOptions } from "./terminal.js";

export const inGitHubActions = (env: NodeJS.ProcessEnv = process.env): boolean => env["GITHUB_ACTIONS"] === "true";

/** The Actions logger inside a GitHub Actions job, the terminal view everywhere else. */
export function createLogger(env: NodeJS.ProcessEnv = process.env, options: TerminalLoggerOptions = {}): Logger {
  return inGitHubActions(env) ? new ActionsLogger(options.masker) : new TerminalLogger(options);
}
