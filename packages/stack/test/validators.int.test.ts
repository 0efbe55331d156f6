// The generated configs pass their real validators, in the images that will run them: `nginx -t` in the NGINX image,
// `promtool check config` in the Prometheus image, `docker compose config` on the compose file. A deliberately broken
// config must fail each validator, so these checks can fail.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { skipTest } from "../../../tools/skips/src/skip.js";
import { composeValidate, detectCompose } from "../src/deploy/compose-cli.js";
import { pullImage, runValidator } from "../src/deploy/docker.js";
import { writeFiles } from "../src/deploy/state.js";
import { SECRET_NAMES, secretVariable } from "../src/index.js";
import { ALERT_RULES_FILE } from "../src/render/prometheus.js";
import { rendered } from "./fixtures.js";
import { labImage } from "./lab.js";

const work = mkdtempSync(join(tmpdir(), "e2e3d-validators-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const nginxImage = await labImage("nginx", "docker.io/library/nginx");
const prometheusImage = await labImage("prometheus", "docker.io/prom/prometheus");

beforeAll(async () => {
  for (const image of [nginxImage.ref, prometheusImage.ref]) {
    if (image) expect(await pullImage(image)).toBeUndefined();
  }
});

describe.each(["production", "lab", "gpu"] as const)("profile %s", (profile) => {
  const dir = join(work, profile);
  writeFiles(dir, rendered(profile).files);

  it("nginx -t accepts the gateway config", async (ctx) => {
    if (!nginxImage.ref) skipTest(ctx, nginxImage.reason ?? "");
    const result = await runValidator(
      nginxImage.ref!,
      "nginx",
      ["-t"],
      [{ source: join(dir, "nginx", "nginx.conf"), target: "/etc/nginx/nginx.conf" }],
    );
    expect(result.output).toMatch(/test is successful/);
    expect(result.ok).toBe(true);
  });

  it("promtool accepts the scrape config and the alert rules", async (ctx) => {
    if (!prometheusImage.ref) skipTest(ctx, prometheusImage.reason ?? "");
    const result = await runValidator(
      prometheusImage.ref!,
      "promtool",
      ["check", "config", "/etc/prometheus/prometheus.yml"],
      [{ source: join(dir, "prometheus"), target: "/etc/prometheus" }],
    );
    const rules = (
      parse(readFileSync(join(dir, "prometheus", ALERT_RULES_FILE), "utf8")) as {
        groups: Array<{ rules: unknown[] }>;
      }
    ).groups.flatMap((g) => g.rules).length;
    expect(rules).toBeGreaterThan(0);
    expect(result.output).toMatch(/SUCCESS: 1 rule files found/);
    expect(result.output).toMatch(/SUCCESS: \/etc\/prometheus\/prometheus\.yml is valid prometheus config file syntax/);
    expect(result.output).toMatch(new RegExp(`SUCCESS: ${rules} rules found`));
    expect(result.ok).toBe(true);
  });

  it("docker compose config accepts the compose file", async (ctx) => {
    if (!(await detectCompose())) skipTest(ctx, "no docker compose answers (bring the lab up)");
    const envFile = join(dir, "test.env");
    writeFileSync(envFile, SECRET_NAMES.map((n) => `${secretVariable(n)}=validatortest${n}0123456789`).join("\n"));
    expect(
      await composeValidate({ project: `e2e3d-validate-${profile}`, composeFile: join(dir, "compose.yaml"), envFile }),
    ).toBeUndefined();
  });
});

describe("the validators can fail", () => {
  it("nginx -t rejects a broken config", async (ctx) => {
    if (!nginxImage.ref) skipTest(ctx, nginxImage.reason ?? "");
    const bad = join(work, "bad-nginx.conf");
    writeFileSync(
      bad,
      readFileSync(join(work, "lab", "nginx", "nginx.conf"), "utf8").replace(
        "location = /healthz {",
        "location = /healthz ",
      ),
    );
    const result = await runValidator(
      nginxImage.ref!,
      "nginx",
      ["-t"],
      [{ source: bad, target: "/etc/nginx/nginx.conf" }],
    );
    expect(result.ok).toBe(false);
  });

  it("promtool rejects a broken alert rule", async (ctx) => {
    if (!prometheusImage.ref) skipTest(ctx, prometheusImage.reason ?? "");
    const dir = join(work, "bad-prometheus");
    writeFiles(dir, rendered("lab").files);
    const rules = join(dir, "prometheus", "alerts.yml");
    writeFileSync(rules, readFileSync(rules, "utf8").replace("expr: up == 0", "expr: up === 0"));
    const result = await runValidator(
      prometheusImage.ref!,
      "promtool",
      ["check", "config", "/etc/prometheus/prometheus.yml"],
      [{ source: join(dir, "prometheus"), target: "/etc/prometheus" }],
    );
    expect(result.ok).toBe(false);
  });

  it("compose refuses to start without the deployment's secrets", async (ctx) => {
    if (!(await detectCompose())) skipTest(ctx, "no docker compose answers (bring the lab up)");
    const empty = join(work, "empty.env");
    writeFileSync(empty, "");
    const error = await composeValidate({
      project: "e2e3d-validate-nosecrets",
      composeFile: join(work, "lab", "compose.yaml"),
      envFile: empty,
    });
    expect(error).toMatch(/secret \w+ is missing/);
  });
});
