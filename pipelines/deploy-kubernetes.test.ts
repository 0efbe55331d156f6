// deploy.ts --target kubernetes: bad arguments and bad input are refused with a clear message and exit 1, before
// anything touches a cluster; with no kubeconfig the chart is only rendered. (Against a real API server:
// packages/stack/test/kubernetes.int.test.ts.)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeDigest, LOCK } from "../packages/stack/test/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "e2e3d-deploy-kube-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const lock = join(dir, "lock.json");
const buildReport = join(dir, "build.json");
const partialReport = join(dir, "build-partial.json");

const report = (names: string[]) =>
  JSON.stringify({
    images: names.map((name) => ({ name, reference: `127.0.0.1:5102/e2e3d/${name}@${fakeDigest(name)}` })),
  });

beforeAll(() => {
  writeFileSync(lock, JSON.stringify(LOCK));
  writeFileSync(buildReport, report(["reconstruction", "reconstruction-gpu", "airflow"]));
  writeFileSync(partialReport, report(["reconstruction"]));
});

const cli = (...args: string[]) => cliWith({}, ...args);
const cliWith = (extra: NodeJS.ProcessEnv, ...args: string[]) => {
  const env: NodeJS.ProcessEnv = { ...process.env, E2E3D_DEPLOY_HOME: join(dir, "state") };
  delete env["KUBECONFIG"];
  Object.assign(env, extra);
  return spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "deploy.ts"), ...args], {
    encoding: "utf8",
    env,
  });
};
/** A production render from the fixture lock and build report (no lab, no registry, no cluster). */
const render = (...args: string[]) =>
  cli("--target", "kubernetes", "--profile", "production", "--lock", lock, "--build-report", buildReport, ...args);
const valuesFile = (name: string, yaml: string) => {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
};

describe("pipelines/deploy.ts --target kubernetes arguments", () => {
  it("rejects an unknown target, naming the valid ones", () => {
    const result = cli("--target", "nomad");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Allowed choices are compose, kubernetes/);
  });

  it.each([
    [["--chart-dir", "x"], /--chart-dir cannot be used with --target compose/],
    [["--dry-run"], /--dry-run cannot be used with --target compose/],
    [["--target", "kubernetes", "--down"], /--down cannot be used with --target kubernetes/],
    [["--target", "kubernetes", "--status"], /--status cannot be used with --target kubernetes/],
    [["--target", "kubernetes", "--dry-run"], /--dry-run needs a cluster to ask: no --kubeconfig and no KUBECONFIG/],
    [["--target", "kubernetes", "--namespace", "Bad_NS"], /--namespace "Bad_NS" is not a Kubernetes namespace name/],
    [["--target", "kubernetes", "--rollout-timeout", "soon"], /--rollout-timeout must be a positive number/],
  ])("refuses %j before anything runs", (args, message) => {
    const result = cli("--lab", ...args);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/\n {2}fix: /);
  });

  it("refuses a KUBECONFIG list (kubectl merges one; deploy takes one file), naming --kubeconfig <file>", () => {
    const list = [join(dir, "a.yaml"), join(dir, "b.yaml")].join(delimiter);
    // The fixture's production inputs: nothing (no lab, no registry) runs even if the refusal did not happen.
    const inputs = ["--profile", "production", "--lock", lock, "--build-report", buildReport];
    const result = cliWith({ KUBECONFIG: list }, "--target", "kubernetes", ...inputs, "--dry-run");
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`error: KUBECONFIG is a list of files (${list}); deploy takes one kubeconfig`);
    expect(result.stderr).toMatch(/fix: pass --kubeconfig <file>/);
    expect(result.stderr).not.toMatch(/does not exist/);
  });
});

describe("pipelines/deploy.ts --target kubernetes input", () => {
  it("renders the chart from the lock and build report when no kubeconfig is given", () => {
    const chartDir = join(dir, "chart-ok");
    const result = render("--chart-dir", chartDir, "--json");
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { outcome: string; images: Record<string, string> };
    expect(summary.outcome).toBe("rendered");
    expect(summary.images["postgres"]).toBe(`127.0.0.1:5102/docker.io/library/postgres@${fakeDigest("postgres")}`);
    expect(existsSync(join(chartDir, "Chart.yaml"))).toBe(true);
    expect(result.stderr).toMatch(/no kubeconfig given/);
  });

  it.each([
    ["an unknown service", "replicas:\n  nosuchservice: 2\n", /replicas: unknown key\(s\) nosuchservice/],
    [
      "a secret value",
      "secrets:\n  name: s\n  postgres_password: hunter2hunter2\n",
      /secret value at secrets\.postgres_password/,
    ],
    ["an image by tag", "images:\n  redis: 127.0.0.1:5102/docker.io/library/redis:7\n", /images\.redis: must be/],
  ])("refuses %s in --values, naming it", (what, yaml, message) => {
    const result = render("--chart-dir", join(dir, "chart-bad"), "--values", valuesFile(`${what}.yaml`, yaml));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(existsSync(join(dir, "chart-bad"))).toBe(false);
  });

  it("refuses a build report that lacks an image's digest, naming the image", () => {
    const result = cli(
      ...["--target", "kubernetes", "--profile", "production", "--lock", lock, "--build-report", partialReport],
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/airflow/);
    expect(result.stderr).toMatch(/fix: /);
  });

  it("will not replace a directory that is not a chart", () => {
    const notAChart = mkdtempSync(join(dir, "precious-"));
    writeFileSync(join(notAChart, "notes.txt"), "keep me");
    const result = render("--chart-dir", notAChart);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/holds files that are not a chart/);
    expect(existsSync(join(notAChart, "notes.txt"))).toBe(true);
  });
});
