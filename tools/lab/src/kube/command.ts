// `lab kube up | down | status [--json] | env`: the lab's optional Kubernetes API server (see ./index.ts).
import { Command } from "commander";
import { loadConfig } from "../config.js";
import { formatKubeStatus, kubeDown, kubeEnv, kubeStatus, kubeUp, readKubeState } from "./index.js";

const stderr = (line: string) => process.stderr.write(`${line}\n`);

/** `setExitCode`: the lab CLI sets the process's exit status from what its commands report. */
export function kubeCommand(setExitCode: (code: number) => void): Command {
  const kube = new Command("kube").description(
    "optional: etcd + kube-apiserver on loopback, kubectl, helm and kubeconform built from the Go module proxy",
  );
  kube
    .command("up")
    .description("build (cached) and start it, write a kubeconfig; idempotent (the first run builds for minutes)")
    .option("--json", "print kube.json on stdout when done")
    .action(async (options: { json?: boolean }) => {
      const state = await kubeUp(loadConfig(), stderr);
      if (options.json) process.stdout.write(`${JSON.stringify(state, null, 2)}\n`);
    });
  kube
    .command("status")
    .description("kube.json plus whether etcd and the API server answer now (exit 3 when not ready)")
    .option("--json", "machine-readable output")
    .action(async (options: { json?: boolean }) => {
      const status = await kubeStatus(loadConfig());
      process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatKubeStatus(status)}\n`);
      if (!status.ready) setExitCode(3);
    });
  kube
    .command("env")
    .description('shell lines for KUBECONFIG and PATH: eval "$(npx tsx tools/lab/src/cli.ts kube env)"')
    .action(async () => {
      process.stdout.write(kubeEnv(await readKubeState(loadConfig().stateDir)));
    });
  kube
    .command("down")
    .description("stop the API server and etcd (their data and the built tools are kept)")
    .action(async () => {
      const stopped = await kubeDown(loadConfig(), stderr);
      stderr(stopped.length ? `stopped: ${stopped.join(", ")}` : "nothing the lab started was running");
    });
  return kube;
}
