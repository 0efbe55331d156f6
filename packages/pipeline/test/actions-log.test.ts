// The GitHub Actions view through the real @actions/core: workflow commands on stdout, outputs and the job summary
// in the files the runner names (temporary files here).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ExecError } from "../src/errors.js";
import { exec } from "../src/exec.js";
import { ActionsLogger, createLogger } from "../src/log/index.js";

let dir: string;
let printed: string[];
const saved = { ...process.env };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "e2e3d-actions-test-"));
  process.env["GITHUB_OUTPUT"] = join(dir, "output");
  process.env["GITHUB_STEP_SUMMARY"] = join(dir, "summary");
  await writeFile(process.env["GITHUB_OUTPUT"], "");
  await writeFile(process.env["GITHUB_STEP_SUMMARY"], "");
  printed = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  process.env = { ...saved };
  await rm(dir, { recursive: true, force: true });
});

describe("GitHub Actions logger", () => {
  it("is chosen inside Actions only", () => {
    expect(createLogger({ GITHUB_ACTIONS: "true" }).kind).toBe("actions");
    expect(createLogger({}).kind).toBe("terminal");
  });

  it("writes groups, file/line annotations and masks secrets in every message", async () => {
    const log = new ActionsLogger();
    log.secret("registry-password-123");
    await log.group("image airflow", async () => {
      log.error("[unknown-group] chown airflow:airflow with registry-password-123", {
        file: "docker/airflow/Dockerfile",
        line: 12,
        title: "Dockerfile lint",
      });
    });
    const out = printed.join("");
    expect(out).toContain("::add-mask::registry-password-123"); // tells the runner to mask it too
    expect(out).toContain("::group::image airflow");
    expect(out).toContain("::endgroup::");
    expect(out).toMatch(
      /::error title=Dockerfile lint,file=docker\/airflow\/Dockerfile,line=12::\[unknown-group\] chown airflow:airflow with \*\*\*/,
    );
    expect(out.split("add-mask")[1]!.split("\n").slice(1).join("\n")).not.toContain("registry-password-123");
  });

  it("sets step outputs and writes the job summary table", async () => {
    const log = new ActionsLogger();
    log.output("build-report", "reports/build.json");
    await log.summary("Images", { header: ["image", "cache hit"], rows: [["airflow", "yes"]] });
    expect(await readFile(join(dir, "output"), "utf8")).toMatch(/build-report<<.*\nreports\/build\.json\n/);
    const summary = await readFile(join(dir, "summary"), "utf8");
    expect(summary).toContain("<h2>Images</h2>");
    expect(summary).toContain("<th>image</th>");
    expect(summary).toContain("<td>airflow</td>");
  });

  it("runs processes through @actions/exec inside Actions: captured output, masked typed errors", async () => {
    process.env["GITHUB_ACTIONS"] = "true";
    const log = new ActionsLogger();
    log.secret("actions-secret-value");
    const lines: string[] = [];
    const result = await exec(log, "sh", ["-c", "echo hello; cat"], { input: "piped\n", onLine: (l) => lines.push(l) });
    expect(result.stdout).toBe("hello\npiped\n");
    expect(lines).toEqual(["hello", "piped"]);
    const error = await exec(log, "sh", ["-c", "echo actions-secret-value; exit 5"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ExecError);
    expect((error as ExecError).exitCode).toBe(5);
    expect((error as ExecError).tail).toEqual(["***"]);
    expect(printed.join("")).not.toContain("[command]"); // @actions/exec's own echo is silenced; we log masked lines
  });
});
