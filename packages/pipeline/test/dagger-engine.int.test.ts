// The Dagger adapter's contract test. It runs only where a Dagger engine answers: inside `dagger run` (a session is
// present) or with a dagger CLI on PATH whose engine responds. Elsewhere it is skipped, and the reason is printed.
// Note: the throwaway registry listens on the host's loopback; a Dagger engine in a container reaches it only with
// host networking, so where it cannot, this suite fails loudly rather than passing vacuously.
import { execFileSync } from "node:child_process";
import { describe } from "vitest";
import { DaggerEngine } from "../src/engines/dagger.js";
import { onPath } from "../src/engines/select.js";
import { engineContract } from "./support/engine-contract.js";
import { integrationSkipReason } from "./support/env.js";

function daggerSkipReason(): string | undefined {
  if (process.env["DAGGER_SESSION_PORT"]) return integrationSkipReason();
  const cli = onPath("dagger");
  if (!cli) {
    return "no Dagger engine answers here: no session (DAGGER_SESSION_PORT unset; run under `dagger run`) and no dagger CLI on PATH (Dagger downloads are unreachable from this machine)";
  }
  try {
    execFileSync(cli, ["core", "version"], { stdio: "pipe", timeout: 120_000 });
  } catch (error) {
    return `the dagger CLI at ${cli} found no engine that answers: ${(error as Error).message.split("\n")[0]}`;
  }
  return integrationSkipReason();
}

const skipReason = daggerSkipReason();
if (skipReason) console.log(`Dagger engine contract skipped: ${skipReason}`);

describe.skipIf(skipReason)("engine contract: Dagger", () => {
  engineContract(() => new DaggerEngine());
});
