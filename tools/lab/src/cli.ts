// The lab's command line: `up`, `down`, `status [--json]`, `kube up|down|status|env`. Errors print as readable messages and exit non-zero.
import { Command } from "commander";
import { loadConfig } from "./config.js";
import { labDown } from "./down.js";
import { formatError } from "./errors.js";
import { kubeCommand } from "./kube/command.js";
import { readLabState } from "./state.js";
import { formatStatus, labStatus } from "./status.js";
import { labUp } from "./up.js";

const stderr = (line: string) => process.stderr.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("lab")
    .description("The e2e3d lab: Docker engine, compose, loopback registries, base and stand-in images on one machine")
    .showHelpAfterError();
  let exitCode = 0;

  program
    .command("up")
    .description("bring everything up (idempotent; a second run on a ready machine only checks)")
    .option("--json", "print lab.json on stdout when done")
    .action(async (options: { json?: boolean }) => {
      const state = await labUp(loadConfig(), stderr);
      if (options.json) process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    });

  program
    .command("status")
    .description("print the endpoints from lab.json and whether each part answers now")
    .option("--json", "machine-readable output")
    .action(async (options: { json?: boolean }) => {
      const status = await labStatus(await readLabState(loadConfig().stateDir));
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
      if (!status.ready) exitCode = 3;
    });

  program
    .command("down")
    .description("stop what the lab started (registries; dockerd only if the lab started it); data is kept")
    .action(async () => {
      const { stopped } = await labDown(loadConfig(), stderr);
      stderr(stopped.length ? `stopped: ${stopped.join(", ")}` : "nothing the lab started was running");
    });

  // Optional, and not part of `up`: its first build costs minutes (see tools/lab/README.md, "Kubernetes").
  program.addCommand(
    kubeCommand((code) => {
      exitCode = code;
    }),
  );

  await program.parseAsync(argv);
  return exitCode;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`${formatError(error)}\n`);
    process.exitCode = 1;
  },
);
