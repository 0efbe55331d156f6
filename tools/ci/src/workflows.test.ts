// Checks on the generated GitHub Actions workflows: actionlint (with shellcheck) passes, every action is pinned by
// commit SHA, every job declares its permissions, no secret is interpolated into a script, and every pipeline entry
// point a workflow calls exists. These read the committed YAML, i.e. what GitHub will run.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { PINNED_ACTIONS } from "../../projen/workflows.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../../..");
const WORKFLOWS_DIR = join(ROOT, ".github/workflows");
const ACTIONLINT = join(ROOT, "tools/ci/actionlint");

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  permissions?: Record<string, string> | string;
  concurrency?: { group: string; "cancel-in-progress"?: unknown };
  "runs-on": string | string[];
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const files = readdirSync(WORKFLOWS_DIR).filter((f) => f.endsWith(".yml"));
const workflows = new Map(files.map((f) => [f, parse(readFileSync(join(WORKFLOWS_DIR, f), "utf8")) as Workflow]));
const allSteps = () =>
  [...workflows].flatMap(([file, wf]) =>
    Object.entries(wf.jobs).flatMap(([job, j]) => j.steps.map((step) => ({ file, job, step }))),
  );

describe("generated workflows", () => {
  beforeAll(async () => {
    // First use builds actionlint from the Go module proxy (about 20 s here); later runs find it in the cache.
    await run(ACTIONLINT, ["-version"], { timeout: 600_000 });
  }, 900_000);

  it("are the four the delivery needs", () => {
    expect(files.sort()).toEqual(["ci.yml", "gpu-smoke.yml", "mirror.yml", "release.yml"]);
  });

  it("pass actionlint (with shellcheck on every run: script)", async () => {
    const result = await run(
      ACTIONLINT,
      files.map((f) => join(".github/workflows", f)),
    ).catch((err: { stdout: string }) => err);
    expect(result.stdout).toBe("");
  });

  it("actionlint does fail on a broken workflow (the check above is live)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "actionlint-"));
    try {
      const bad = join(dir, "bad.yml");
      writeFileSync(
        bad,
        [
          "on: push",
          "jobs:",
          "  a:",
          "    runs-on: ubuntu-24.04",
          "    permissions: {contents: read}",
          "    steps:",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, deliberately injected here
          "      - run: echo ${{ github.event.head_commit.message }} $UNQUOTED",
          "      - uses: actions/checkout@v4",
          "        with: {not-an-input: 1}",
          "",
        ].join("\n"),
      );
      const failure = await run(ACTIONLINT, [bad]).then(
        () => undefined,
        (err: { code: number; stdout: string }) => err,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stdout).toMatch(/potentially untrusted/); // expression injection
      expect(failure?.stdout).toMatch(/SC2086/); // shellcheck ran
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pin every action by full commit SHA, with the release version as a comment", () => {
    for (const file of files) {
      const lines = readFileSync(join(WORKFLOWS_DIR, file), "utf8").split("\n");
      for (const line of lines.filter((l) => /^\s*(- )?uses:/.test(l))) {
        const m = line.match(/uses: ([\w.-]+\/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/);
        expect(m, `${file}: "${line.trim()}" is not pinned as <action>@<40-hex sha> # vX.Y.Z`).not.toBeNull();
        const pin = PINNED_ACTIONS[m![1] as keyof typeof PINNED_ACTIONS];
        expect(pin, `${file}: ${m![1]} is not in PINNED_ACTIONS`).toBeDefined();
        expect([m![2], m![3]]).toEqual([pin.sha, pin.version]);
      }
    }
    expect(allSteps().filter(({ step }) => step.uses).length).toBeGreaterThan(10);
  });

  it("declare least-privilege permissions on every job", () => {
    for (const [file, wf] of workflows) {
      for (const [name, job] of Object.entries(wf.jobs)) {
        expect(job.permissions, `${file} job ${name} has no permissions`).toBeTypeOf("object");
        const perms = job.permissions as Record<string, string>;
        const writes = Object.entries(perms)
          .filter(([, v]) => v === "write")
          .map(([k]) => k);
        // Only the jobs that publish a release or open a pull request may write, and they run no project code.
        const allowed: Record<string, string[]> = {
          "publish-release": ["contents"],
          "pull-request": ["contents", "pull-requests"],
        };
        expect(writes, `${file} job ${name} writes ${writes.join(", ")}`).toEqual(allowed[name] ?? []);
        if (writes.length > 0) {
          const runsCode = job.steps.some((s) => s.run && /npm|npx|tsx|node /.test(s.run));
          expect(runsCode, `${file} job ${name} has write access and runs project code`).toBe(false);
        }
      }
    }
  });

  it("never interpolate a secret or event text into a run: script (secrets only through env)", () => {
    for (const { file, job, step } of allSteps()) {
      if (!step.run) continue;
      expect(step.run, `${file} ${job}`).not.toMatch(/\$\{\{\s*secrets\./);
      expect(step.run, `${file} ${job}`).not.toMatch(/\$\{\{\s*github\.event\./);
    }
    const secretEnv = [...workflows.values()].flatMap((wf) =>
      Object.values(wf.jobs).flatMap((j) => Object.values((j as Job & { env?: Record<string, string> }).env ?? {})),
    );
    expect(secretEnv.some((v) => /secrets\./.test(v))).toBe(true);
  });

  it("never overlap two deliveries, releases or mirrors of the same ref", () => {
    const guarded = [
      ["ci.yml", "delivery"],
      ["release.yml", "promote"],
      ["mirror.yml", "sync"],
      ["gpu-smoke.yml", "smoke"],
    ] as const;
    for (const [file, name] of guarded) {
      const job = workflows.get(file)!.jobs[name]!;
      expect(job.concurrency?.group, `${file} ${name}`).toBeTruthy();
      expect(job.concurrency?.["cancel-in-progress"], `${file} ${name}`).toBe(false);
    }
  });

  it("check out full history for nx affected and derive its base", () => {
    const checks = workflows.get("ci.yml")!.jobs["checks"]!;
    expect(checks.steps.find((s) => s.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"]).toBe(0);
    expect(checks.steps.some((s) => s.uses?.startsWith("nrwl/nx-set-shas@"))).toBe(true);
    expect(checks.steps.some((s) => s.run?.includes("nx affected") && s.run.includes("$NX_BASE"))).toBe(true);
  });

  it("install the Dagger CLI version that matches the pinned SDK", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const sdk = pkg.dependencies["@dagger.io/dagger"];
    const dagger = allSteps().find(({ step }) => step.uses?.startsWith("dagger/dagger-for-github@"));
    expect(sdk).toMatch(/^\d+\.\d+\.\d+$/);
    expect(String(dagger?.step.with?.["version"])).toBe(sdk);
  });

  it("run on the triggers the delivery needs", () => {
    expect(Object.keys(workflows.get("ci.yml")!.on).sort()).toEqual(["pull_request", "push"]);
    expect(workflows.get("release.yml")!.on).toEqual({ push: { tags: ["v*"] } });
    expect(Object.keys(workflows.get("mirror.yml")!.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect(Object.keys(workflows.get("gpu-smoke.yml")!.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
    expect(workflows.get("gpu-smoke.yml")!.jobs["smoke"]!["runs-on"]).toEqual(["self-hosted", "gpu"]);
  });

  it("call only entry points that exist (npx tsx <file>)", () => {
    const called = new Set<string>();
    for (const { step } of allSteps()) {
      for (const m of (step.run ?? "").matchAll(/npx tsx (\S+\.ts)/g)) called.add(m[1]!);
    }
    expect([...called]).toEqual(
      expect.arrayContaining(["pipelines/build.ts", "pipelines/test.ts", "pipelines/release.ts"]),
    );
    const missing = [...called].filter((path) => !existsSync(join(ROOT, path))).sort();
    expect(missing, `workflows call entry points that do not exist: ${missing.join(", ")}`).toEqual([]);
  });
});
