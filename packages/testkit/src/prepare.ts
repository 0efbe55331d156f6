// Preparing the inputs of a run on the lab, through the existing pipeline functions: the lab is up, the lab lock is
// resolved (HEADs only when nothing moved), the mirror is synced (skips what is present), and the first-party images
// are built (skipped by input digest when unchanged). A second call with nothing changed costs a few seconds.
import { spawn } from "node:child_process";
import { clientFromEnv, parseRemapRules, syncLock, updateLock } from "@e2e3d/oci";
import { type BuildReport, createLogger, readLabInfo, runBuildCommand } from "@e2e3d/pipeline";
import { InputsError } from "./errors.js";
import { labImagesFile, labLockFile, repoRoot } from "./paths.js";
import { note, phase } from "./phases.js";

export interface PreparedImages {
  buildReport: BuildReport;
  buildReportFile: string;
  lockFile: string;
  privateRegistry: string;
  upstreamRegistry: string;
}

export interface PrepareOptions {
  /** Where the build report is written (default: reports/testkit-build.json under the repository root). */
  buildReportFile?: string;
  /** Only these first-party images (default: all of the build table). */
  images?: string[];
  env?: NodeJS.ProcessEnv;
}

async function answers(registry: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${registry}/v2/`, { signal: AbortSignal.timeout(5000) });
    return response.status === 200 || response.status === 401;
  } catch {
    return false;
  }
}

/** The lab's own CLI (idempotent): only run when lab.json is missing or a registry does not answer. */
async function ensureLab(env: NodeJS.ProcessEnv): Promise<{ upstream: string; private: string }> {
  const current = readLabInfo(env);
  if (current && (await answers(current.upstream)) && (await answers(current.private))) {
    note(`lab: up (upstream ${current.upstream}, private ${current.private})`);
    return current;
  }
  note(`lab: ${current ? "a registry does not answer" : "no lab.json"}; running the lab (tools/lab/src/cli.ts up)`);
  const code = await new Promise<number>((resolvePromise, reject) => {
    const child = spawn("npx", ["tsx", "tools/lab/src/cli.ts", "up"], {
      cwd: repoRoot(),
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.on("error", reject);
    child.on("close", (c) => resolvePromise(c ?? 1));
  });
  const after = readLabInfo(env);
  if (code !== 0 || !after) {
    throw new InputsError(`the lab did not come up (exit ${code})`, {
      hint: "run `npx tsx tools/lab/src/cli.ts up` and read its output",
    });
  }
  return after;
}

/** Lab up → lab lock → mirror → build. Returns the build report the suites run against. */
export async function prepareImages(options: PrepareOptions = {}): Promise<PreparedImages> {
  const env = options.env ?? process.env;
  const root = repoRoot();
  const lab = await phase("prepare: lab", () => ensureLab(env));
  const lockFile = labLockFile(env);
  // The lab upstream keeps origin paths (127.0.0.1:5101/docker.io/...): the same remapping a pull-through cache needs.
  const rules = parseRemapRules([`docker.io=${lab.upstream}/docker.io`, `quay.io=${lab.upstream}/quay.io`]);
  const client = clientFromEnv(env);
  try {
    const lock = await phase("prepare: lab lock", async () => {
      const result = await updateLock(client, { imagesPath: labImagesFile(root), lockPath: lockFile, rules });
      note(`lab lock ${lockFile}: ${result.changed.length} changed, ${result.unchanged.length} unchanged`);
      return result.lock;
    });
    await phase("prepare: mirror", async () => {
      const records = await syncLock(client, lock, { to: lab.private, rules });
      const failed = records.filter((r) => r.status === "failed");
      note(`mirror → ${lab.private}: ${records.map((r) => `${r.name} ${r.status}`).join(", ")}`);
      if (failed.length > 0) {
        throw new InputsError(`the mirror failed for ${failed.map((r) => r.name).join(", ")}`, {
          context: { errors: failed.map((r) => `${r.name}: ${r.error}`).join("; ") },
          hint: "run `npx tsx pipelines/mirror.ts sync --lock <lab lock> --to 127.0.0.1:5102` to see the details",
        });
      }
    });
  } finally {
    await client.close();
  }
  // Its own file: reports/build.json belongs to whoever ran pipelines/build.ts last.
  const buildReportFile = options.buildReportFile ?? `${root}/reports/testkit-build.json`;
  const { report } = await phase("prepare: build", () =>
    runBuildCommand({
      log: createLogger(env),
      lock: lockFile,
      to: lab.private,
      report: buildReportFile,
      images: options.images,
      root,
      env,
    }),
  );
  if (report.status !== "passed") {
    throw new InputsError(
      `the build failed: ${report.failures.map((f) => `${f.name} (${f.step}): ${f.message}`).join("; ")}`,
      {
        context: { buildReport: buildReportFile },
        hint: "fix the failing image (see the build output above), then run again: unchanged images are skipped",
      },
    );
  }
  return {
    buildReport: report,
    buildReportFile,
    lockFile,
    privateRegistry: lab.private,
    upstreamRegistry: lab.upstream,
  };
}
