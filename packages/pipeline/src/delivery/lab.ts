// The delivery's inputs on the embedded lab, through the same functions the separate pipelines call:
// lab up → lab lock → mirror → build. Each step is idempotent and cheap when nothing changed (the lab checks its
// parts, the lock re-resolves by HEAD, the mirror skips present digests, the build skips by input digest), so the
// deploy entry point and the integration suites call it every time.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { clientFromEnv, parseRemapRules, syncLock, updateLock } from "@e2e3d/oci";
import { runBuildCommand } from "../build/command.js";
import type { BuildReport } from "../build/report.js";
import { labStateDir, readLabInfo } from "../config.js";
import { PipelineError } from "../errors.js";
import type { Logger } from "../log/index.js";

export interface LabDelivery {
  buildReport: BuildReport;
  buildReportFile: string;
  lockFile: string;
  privateRegistry: string;
  upstreamRegistry: string;
}

export interface LabDeliveryOptions {
  /** The repository root (Dockerfiles, docker/lab/images.yaml). */
  root: string;
  log: Logger;
  /** Where the build report goes. */
  buildReportFile: string;
  /** Only these first-party images (default: every image of the build table). */
  images?: string[] | undefined;
  env?: NodeJS.ProcessEnv;
}

/** The lab's images file (what it stands in for) and its machine-local lock (stand-in digests differ per machine). */
export const labImagesFile = (root: string) => join(root, "docker", "lab", "images.yaml");
export const labLockFile = (env: NodeJS.ProcessEnv = process.env) => join(labStateDir(env), "images.lock.json");

async function answers(registry: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(5000) });
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

/**
 * Brings the lab up through its own CLI. The CLI is idempotent (a second `up` takes about a second), but even that
 * is skipped when lab.json exists and both registries answer.
 */
export async function ensureLab(options: { root: string; log: Logger; env?: NodeJS.ProcessEnv }) {
  const env = options.env ?? process.env;
  const current = readLabInfo(env);
  if (current && (await answers(current.upstream)) && (await answers(current.private))) {
    options.log.info(`lab: up (upstream ${current.upstream}, private ${current.private})`);
    return current;
  }
  options.log.info(
    `lab: ${current ? "a registry does not answer" : "not set up yet"}; running tools/lab/src/cli.ts up`,
  );
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn("npx", ["tsx", "tools/lab/src/cli.ts", "up"], {
      cwd: options.root,
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (c) => resolve(c ?? 1));
  });
  const after = readLabInfo(env);
  if (code !== 0 || !after) {
    throw new PipelineError(`the lab did not come up (exit ${code})`, {
      hint: "run `npx tsx tools/lab/src/cli.ts up` and read its output",
    });
  }
  return after;
}

/** Lab up → lab lock → mirror → build. Returns the build report that test and deploy run against. */
export async function prepareLabDelivery(options: LabDeliveryOptions): Promise<LabDelivery> {
  const { log, root } = options;
  const env = options.env ?? process.env;
  const lab = await log.group("lab", () => ensureLab({ root, log, env }));
  const lockFile = labLockFile(env);
  // The lab upstream keeps origin paths (127.0.0.1:5101/docker.io/...): the same remapping a pull-through cache needs.
  const rules = parseRemapRules([`docker.io=${lab.upstream}/docker.io`, `quay.io=${lab.upstream}/quay.io`]);
  const client = clientFromEnv(env);
  try {
    const lock = await log.group("lock (lab)", async () => {
      const result = await updateLock(client, { imagesPath: labImagesFile(root), lockPath: lockFile, rules });
      log.info(`${lockFile}: ${result.changed.length} changed, ${result.unchanged.length} unchanged`);
      return result.lock;
    });
    await log.group(`mirror → ${lab.private}`, async () => {
      const records = await syncLock(client, lock, { to: lab.private, rules });
      log.info(records.map((r) => `${r.name} ${r.status}`).join(", "));
      const failed = records.filter((r) => r.status === "failed");
      if (failed.length > 0) {
        throw new PipelineError(`the mirror failed for ${failed.map((r) => r.name).join(", ")}`, {
          context: { errors: failed.map((r) => `${r.name}: ${r.error}`).join("; ") },
          hint: `run \`npx tsx pipelines/mirror.ts sync --lock ${lockFile} --to ${lab.private}\` to see the details`,
        });
      }
    });
  } finally {
    await client.close();
  }
  const { report } = await runBuildCommand({
    log,
    lock: lockFile,
    to: lab.private,
    report: options.buildReportFile,
    images: options.images,
    root,
    env,
  });
  if (report.status !== "passed") {
    throw new PipelineError(
      `the build failed: ${report.failures.map((f) => `${f.name} (${f.step}): ${f.message}`).join("; ")}`,
      {
        context: { buildReport: options.buildReportFile },
        hint: "fix the failing image (see the build output above), then run again: unchanged images are skipped",
      },
    );
  }
  return {
    buildReport: report,
    buildReportFile: options.buildReportFile,
    lockFile,
    privateRegistry: lab.private,
    upstreamRegistry: lab.upstream,
  };
}
