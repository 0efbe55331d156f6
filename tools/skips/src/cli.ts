// The skip check for runners that are not vitest (pytest: tools/skips/pytest_skips.py writes its skips as JSON lines
// and runs this), with the same policy and output as the vitest reporter.
//   tsx tools/skips/src/cli.ts check --runner pytest --records skips.jsonl [--allow-list tools/ci/allowed-skips.yaml]
// Exit codes: 0 every skip accepted, 1 a skip refused (each printed with its reason), 2 the inputs are unreadable.
import { Command } from "commander";
import { checkSkips, formatSkipCheck, formatSkipPolicyError, readAllowList, readRecords } from "./policy.js";

const program = new Command("skips").description("check a run's skips against tools/ci/allowed-skips.yaml");
program
  .command("check")
  .requiredOption("--records <file>", "the run's skips, one JSON record a line")
  .requiredOption("--runner <name>", "the test runner, for the output")
  .option("--allow-list <file>", "another allow-list (the mechanism's own tests)")
  .action((opts: { records: string; runner: string; allowList?: string }) => {
    try {
      const check = checkSkips(readRecords(opts.records), readAllowList(opts.allowList));
      const text = formatSkipCheck(check, opts.runner);
      if (text) process.stdout.write(`${text}\n`);
      process.exitCode = check.failures.length > 0 ? 1 : 0;
    } catch (error) {
      process.stderr.write(`${formatSkipPolicyError(error)}\n`);
      process.exitCode = 2;
    }
  });
program.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
await program.parseAsync();
