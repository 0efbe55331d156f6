// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text spells ${VAR} literally
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatFinding, type LintRule, lintDockerfile } from "../src/build/lint.js";

const fixtures = join(import.meta.dirname, "fixtures", "lint");
const lint = async (name: string) =>
  lintDockerfile(`fixtures/lint/${name}`, await readFile(join(fixtures, name), "utf8"));

describe("Dockerfile lint", () => {
  it("passes a clean Dockerfile (ARG base, root work before USER, created groups, numeric and system groups)", async () => {
    expect(await lint("clean.Dockerfile")).toEqual([]);
  });

  const cases: [file: string, rule: LintRule, line: number, mentions: string][] = [
    ["unpinned-from.Dockerfile", "unpinned-from", 1, "debian:bookworm-slim"],
    ["unpinned-arg-default.Dockerfile", "unpinned-from", 2, "debian:bookworm"],
    ["latest-tag.Dockerfile", "latest-tag", 1, "latest"],
    ["syntax-directive.Dockerfile", "syntax-directive", 1, "frontend"],
    ["root-op-after-user.Dockerfile", "root-op-after-user", 6, "chmod /opt/airflow/scripts/airflow-init.sh"],
    ["unknown-group.Dockerfile", "unknown-group", 4, "group 'airflow'"],
    ["add-url.Dockerfile", "add-url", 3, "https://example.com/tool.tar.gz"],
    ["secret-literal.Dockerfile", "secret-literal", 3, "MINIO_ROOT_PASSWORD"],
    ["secret-literal.Dockerfile", "secret-literal", 5, "AIRFLOW__CORE__FERNET_KEY"],
  ];
  it.each(cases)("%s fires %s at line %i", async (file, rule, line, mentions) => {
    const findings = await lint(file);
    const hit = findings.find((f) => f.rule === rule && f.line === line);
    expect(hit, JSON.stringify(findings, null, 2)).toBeDefined();
    expect(hit!.message).toContain(mentions);
    expect(formatFinding(hit!)).toMatch(
      new RegExp(`^fixtures/lint/${file.replace(".", "\\.")}:${line}: \\[${rule}\\]`),
    );
  });

  it("catches both failures of the seed report's Airflow Dockerfile, plus its unpinned base", async () => {
    const rules = (await lint("seed-airflow.Dockerfile")).map((f) => `${f.line}:${f.rule}`);
    expect(rules).toEqual(["2:unpinned-from", "4:root-op-after-user", "4:unknown-group", "7:root-op-after-user"]);
  });

  it("reads continuation lines as one instruction and cites the instruction's first line", () => {
    const text = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nUSER 1000\nRUN echo a && \\\n    mkdir -p \\\n      /etc/app\n";
    expect(lintDockerfile("x/Dockerfile", text)).toEqual([
      expect.objectContaining({ file: "x/Dockerfile", line: 4, rule: "root-op-after-user" }),
    ]);
  });

  it("resets USER at each stage and accepts a switch back to root", () => {
    const text =
      "ARG BASE_IMAGE\nFROM ${BASE_IMAGE} AS a\nUSER app\nFROM ${BASE_IMAGE}\nRUN mkdir /opt/x\nUSER app\nUSER root\nRUN chmod 755 /opt/x\n";
    expect(lintDockerfile("Dockerfile", text)).toEqual([]);
  });

  it("does not treat variable references as secret literals", () => {
    const text = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG API_TOKEN\nENV API_TOKEN=${API_TOKEN}\n";
    expect(lintDockerfile("Dockerfile", text)).toEqual([]);
  });
});
