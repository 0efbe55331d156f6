// What the suite files share: their inputs (from pipelines/test.ts's environment, or prepared on the lab), skip
// reasons recorded for the test report, and a copy of everything the test process prints (the security suite
// checks it for secrets).
import { appendFileSync } from "node:fs";
import { format } from "node:util";
import { readLabInfo } from "@e2e3d/pipeline";
import { labLockFile } from "./paths.js";
import { note } from "./phases.js";
import { prepareImages } from "./prepare.js";
import type { StackInputs } from "./stack.js";

/** Environment pipelines/test.ts sets for the suites it runs. */
export const TEST_ENV = {
  buildReport: "E2E3D_TEST_BUILD_REPORT",
  lock: "E2E3D_TEST_LOCK",
  registry: "E2E3D_TEST_REGISTRY",
  profile: "E2E3D_TEST_PROFILE",
  skipFile: "E2E3D_TEST_SKIP_FILE",
} as const;

export type SuiteName = "end-to-end" | "resilience" | "security" | "gpu";

export interface SuiteInputs extends StackInputs {
  profile: "lab" | "production";
}

/**
 * The images to test: the build report pipelines/test.ts was given (with its lock and registry), or, when a suite is
 * run on its own (nx run testkit:integration), the lab's images prepared through the pipelines (cheap when unchanged).
 */
export async function suiteInputs(env: NodeJS.ProcessEnv = process.env): Promise<SuiteInputs> {
  const buildReportFile = env[TEST_ENV.buildReport];
  if (buildReportFile) {
    const lab = readLabInfo(env);
    const profile = (env[TEST_ENV.profile] as SuiteInputs["profile"] | undefined) ?? (lab ? "lab" : "production");
    return {
      buildReportFile,
      lockFile: env[TEST_ENV.lock] ?? (profile === "lab" ? labLockFile(env) : "docker/images.lock.json"),
      privateRegistry: env[TEST_ENV.registry] ?? env["E2E3D_PRIVATE_REGISTRY"] ?? lab?.private ?? "127.0.0.1:5102",
      profile,
    };
  }
  note(
    "no E2E3D_TEST_BUILD_REPORT: preparing the lab's images (lab, lock, mirror, build; unchanged parts are skipped)",
  );
  const prepared = await prepareImages({ env });
  return {
    buildReportFile: prepared.buildReportFile,
    lockFile: prepared.lockFile,
    privateRegistry: prepared.privateRegistry,
    profile: "lab",
  };
}

/** Prints why a suite or test is skipped and records it for the test report (a skip without a reason is a defect). */
export function recordSkip(suite: SuiteName, reason: string, env: NodeJS.ProcessEnv = process.env): void {
  console.warn(`SKIP ${suite}: ${reason}`);
  const file = env[TEST_ENV.skipFile];
  if (file) appendFileSync(file, `${JSON.stringify({ suite, reason })}\n`);
}

/**
 * Keeps a copy of everything written to stdout, stderr and the console from now on (the test output, as this process
 * sees it; vitest forwards console calls on its own channel, so both are wrapped).
 */
export function captureOutput(): { text: () => string } {
  const chunks: string[] = [];
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      chunks.push(`${format(...args)}\n`);
      original(...args);
    };
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
      return original(chunk, ...rest);
    }) as typeof stream.write;
  }
  return { text: () => chunks.join("") };
}
