// Entry point: deploy the E2E3D stack (preflight → apply → health → smoke, rollback on failure), or take it down.
// Thin: parses arguments, calls @e2e3d/pipeline and @e2e3d/stack, reports. Progress and a short summary go to stderr;
// the full summary as JSON goes to stdout when it is not a terminal (or with --json).
// With no profile and no private registry configured it runs the whole delivery on the embedded lab:
// lab up → lock → mirror → build → deploy.
//   npx tsx pipelines/deploy.ts
//   npx tsx pipelines/deploy.ts --lab --skip-prepare --build-report reports/build.json
//   npx tsx pipelines/deploy.ts --profile production --lock docker/images.lock.json --build-report reports/build.json
//   npx tsx pipelines/deploy.ts --lab --status          (exit 1 when the running stack is not as deployed)
//   npx tsx pipelines/deploy.ts --profile production --smoke-job   (the functional smoke outside the lab)
//   npx tsx pipelines/deploy.ts --lab --down [--volumes]
//   npx tsx pipelines/deploy.ts --target kubernetes [--kubeconfig <file>] [--dry-run]   (the Helm chart; see README)
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { type BuildReport, createLogger, prepareLabDelivery } from "@e2e3d/pipeline";
import {
  buildModel,
  deploy,
  deployKubernetes,
  down,
  findKubeTools,
  formatError,
  PROFILES,
  type ProfileName,
  renderDeploySummary,
  renderKubernetesSummary,
  renderStackStatus,
  StackError,
  stackStatus,
} from "@e2e3d/stack";
import { Command, Option } from "commander";

const env = process.env;
const labHome = env["E2E3D_LAB_HOME"]?.trim() || join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-lab");
const defaultStateDir =
  env["E2E3D_DEPLOY_HOME"]?.trim() || join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-deploy");

const TARGETS = ["compose", "kubernetes"] as const;
/** Options that only mean something for one target: given for the other, they would silently do nothing. */
const KUBERNETES_ONLY = ["chartDir", "kubeconfig", "namespace", "values", "dryRun", "rolloutTimeout"] as const;
const COMPOSE_ONLY = ["status", "down", "only", "gatewayPort", "s3Port", "publicUrl", "smokeJob"] as const;
const flag = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

const program = new Command("deploy")
  .description("Deploy the E2E3D stack from pinned, mirrored images, and prove it works")
  .addOption(new Option("--target <name>", "compose | kubernetes").choices(TARGETS).default("compose"))
  .addOption(new Option("--profile <name>", "production | lab | gpu").choices(PROFILES))
  .option("--lab", "shorthand for --profile lab (the default when no private registry is configured)")
  .option("--skip-prepare", "lab: deploy the given build report as is (no lab up, lock, mirror or build first)")
  .option("--lock <file>", "lock file (default: docker/images.lock.json; lab: <lab state dir>/images.lock.json)")
  .option("--build-report <file>", "build report of the first-party images", "reports/build.json")
  .option("--registry <host:port>", "private registry (default: $E2E3D_PRIVATE_REGISTRY, lab: 127.0.0.1:5102)")
  .option("--project <name>", "compose project name (one per deployment)")
  .option("--state-dir <dir>", "deploy state: secrets, generated configs, deployment record", defaultStateDir)
  .option("--gateway-port <port>", "host port of the gateway", (v) => Number(v))
  .option("--s3-port <port>", "host port of the S3 API (loopback)", (v) => Number(v))
  .option("--public-url <url>", "the gateway's address as browsers see it")
  .option("--only <services>", "deploy only these services (comma-separated) and what they depend on", (v) =>
    v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .option("--smoke-job", "after the smoke checks, reconstruct a small synthetic set through the stack (default: lab)")
  .option("--no-smoke-job", "skip that functional smoke (the default outside the lab)")
  .option("--json", "print the summary as JSON on stdout (the default when stdout is not a terminal)")
  .option("--status", "compare the running stack with the last deployment (exit 1 when it is not as deployed)")
  .option("--down", "stop and remove the stack (named volumes are kept)")
  .option("--volumes", "with --down: remove the named volumes too (DATA LOSS)")
  .option(
    "--chart-dir <dir>",
    "kubernetes: where the chart is written (default: <state dir>/<project>/kubernetes/chart)",
  )
  .option("--kubeconfig <file>", "kubernetes: the cluster to apply to (default: $KUBECONFIG; without one: render only)")
  .option("--namespace <name>", "kubernetes: the namespace (default: the project name)")
  .option("--values <file>", "kubernetes: chart value overrides (YAML; checked like values.schema.json)")
  .option("--dry-run", "kubernetes: preflight and a server-side dry run of every object; nothing is changed")
  .option("--rollout-timeout <seconds>", "kubernetes: deadline of the rollout", (v) => Number(v))
  .action(async (opts) => {
    const given = (keys: readonly string[]) => keys.filter((k) => opts[k] !== undefined);
    const misplaced = given(opts.target === "kubernetes" ? COMPOSE_ONLY : KUBERNETES_ONLY);
    if (misplaced.length > 0) {
      throw new StackError(`${misplaced.map(flag).join(", ")} cannot be used with --target ${opts.target}`, {
        hint:
          opts.target === "kubernetes"
            ? "these are compose options; for a cluster use kubectl (see README, Moving to Kubernetes)"
            : "add --target kubernetes",
      });
    }
    const registryConfigured = Boolean(opts.registry ?? env["E2E3D_PRIVATE_REGISTRY"]?.trim());
    const profile: ProfileName = opts.lab ? "lab" : (opts.profile ?? (registryConfigured ? "production" : "lab"));
    const project: string = opts.project ?? (profile === "production" ? "e2e3d" : `e2e3d-${profile}`);
    if (opts.volumes && !opts.down) {
      throw new StackError("--volumes only makes sense with --down", {
        hint: "add --down to remove the stack and its volumes",
      });
    }
    if (opts.status) {
      const status = await stackStatus({ project, stateDir: opts.stateDir });
      if (wantsJson(opts)) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else process.stdout.write(renderStackStatus(status));
      process.exitCode = status.ok ? 0 : 1;
      return;
    }
    if (opts.down) {
      const result = await down({ project, stateDir: opts.stateDir, volumes: Boolean(opts.volumes) });
      if (wantsJson(opts)) process.stdout.write(`${JSON.stringify({ project, ...result }, null, 2)}\n`);
      else
        process.stderr.write(
          `stopped and removed ${project}${opts.volumes ? ", volumes included" : " (volumes kept)"}\n`,
        );
      return;
    }
    const kubeconfig: string | undefined = opts.kubeconfig ?? (env["KUBECONFIG"]?.trim() || undefined);
    if (opts.target === "kubernetes") {
      // kubectl merges a KUBECONFIG list; deploy passes one file to kubectl, helm and its port-forwards, so a list is
      // refused rather than taken as one path that "does not exist".
      if (!opts.kubeconfig && kubeconfig?.includes(delimiter)) {
        throw new StackError(`KUBECONFIG is a list of files (${kubeconfig}); deploy takes one kubeconfig`, {
          hint: "pass --kubeconfig <file>; to merge the list into one (it holds credentials): (umask 077; kubectl config view --flatten --minify > ~/.kube/e2e3d.yaml), then --kubeconfig ~/.kube/e2e3d.yaml",
        });
      }
      if (opts.dryRun && !kubeconfig) {
        throw new StackError("--dry-run needs a cluster to ask: no --kubeconfig and no KUBECONFIG", {
          hint: "pass --kubeconfig <file> (the lab's: npx tsx tools/lab/src/cli.ts kube up, then kube env)",
        });
      }
      if (opts.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(opts.namespace)) {
        throw new StackError(`--namespace ${JSON.stringify(opts.namespace)} is not a Kubernetes namespace name`, {
          hint: "lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit",
        });
      }
      if (opts.rolloutTimeout !== undefined && !(opts.rolloutTimeout > 0)) {
        throw new StackError("--rollout-timeout must be a positive number of seconds", { hint: "e.g. 600" });
      }
    }
    let lockFile: string =
      opts.lock ?? (profile === "lab" ? join(labHome, "images.lock.json") : "docker/images.lock.json");
    let privateRegistry: string = opts.registry ?? env["E2E3D_PRIVATE_REGISTRY"]?.trim() ?? "127.0.0.1:5102";
    const ports = {
      ...(opts.gatewayPort ? { gateway: opts.gatewayPort } : {}),
      ...(opts.s3Port ? { objectStore: opts.s3Port } : {}),
    };
    // The model is pure: building it first refuses a bad --only or port plan before the lab or a build does any work.
    buildModel({ profile, ports, ...(opts.only ? { only: opts.only } : {}) });
    let built: { engine: BuildReport["engine"]; built: string[]; cacheHits: string[] } | undefined;
    if (profile === "lab" && !opts.skipPrepare) {
      const prepared = await prepareLabDelivery({
        root: process.cwd(),
        log: createLogger(env),
        buildReportFile: resolve(opts.buildReport),
        env,
      });
      lockFile = prepared.lockFile;
      privateRegistry = prepared.privateRegistry;
      const images = prepared.buildReport.images;
      built = {
        engine: prepared.buildReport.engine,
        built: images.filter((i) => !i.cacheHit).map((i) => i.name),
        cacheHits: images.filter((i) => i.cacheHit).map((i) => i.name),
      };
    }
    const started = Date.now();
    if (opts.target === "kubernetes") {
      const summary = await deployKubernetes({
        lockFile,
        buildReport: opts.buildReport,
        privateRegistry,
        profile,
        release: project,
        namespace: opts.namespace ?? project,
        stateDir: opts.stateDir,
        ...(opts.chartDir ? { chartDir: resolve(opts.chartDir) } : {}),
        ...(opts.values ? { valuesFile: resolve(opts.values) } : {}),
        ...(kubeconfig ? { kubeconfig: resolve(kubeconfig) } : {}),
        tools: findKubeTools(labHome, env),
        dryRun: Boolean(opts.dryRun),
        ...(opts.rolloutTimeout ? { rolloutTimeoutS: opts.rolloutTimeout } : {}),
      });
      process.stderr.write(renderKubernetesSummary(summary, (Date.now() - started) / 1000));
      if (wantsJson(opts)) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return;
    }
    const summary = await deploy({
      lockFile,
      buildReport: opts.buildReport,
      privateRegistry,
      profile,
      project,
      stateDir: opts.stateDir,
      ports,
      ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
      ...(opts.only ? { only: opts.only } : {}),
      smokeJob: opts.smokeJob ?? profile === "lab",
    });
    process.stderr.write(renderDeploySummary(summary, (Date.now() - started) / 1000));
    if (built)
      process.stderr.write(
        `  engine   ${built.engine.description ?? built.engine.name} (${built.engine.reason}): built ${built.built.join(", ") || "nothing"}; unchanged ${built.cacheHits.join(", ") || "none"}\n`,
      );
    if (wantsJson(opts))
      process.stdout.write(`${JSON.stringify(built ? { ...summary, build: built } : summary, null, 2)}\n`);
  });

/** JSON for machines (a pipe, a file, --json); a person at a terminal gets the short summary only. */
function wantsJson(opts: { json?: boolean }): boolean {
  return Boolean(opts.json) || !process.stdout.isTTY;
}

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`${formatError(err)}\n`);
  process.exit(1);
});
