// Step 1: preflight. Changes nothing the running stack uses: it reads, probes, pulls images and runs validators in
// throwaway containers on a staging copy of the configs. Every problem is collected; then it stops with the list.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { PreflightProblem } from "../errors.js";
import { S } from "../model/services.js";
import type { StackModel } from "../model/types.js";
import { verifyDigestPresent } from "../oci-adapter.js";
import { COMPOSE_FILE } from "../render/index.js";
import { inspectSecrets, SECRET_NAMES, secretVariable } from "../secrets.js";
import { composeValidate, detectCompose } from "./compose-cli.js";
import { engineVersion, projectPublishedPorts, pullImage, runValidator } from "./docker.js";
import type { Reporter } from "./progress.js";
import { type ProjectState, writeFiles } from "./state.js";

export interface PreflightInput {
  model: StackModel;
  project: string;
  images: Map<string, string>;
  files: Map<string, string>;
  state: ProjectState;
  reporter: Reporter;
  /** Problems found before preflight (image resolution); reported together with the rest. */
  earlier?: PreflightProblem[];
}

function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export async function preflight(input: PreflightInput): Promise<PreflightProblem[]> {
  const { model, project, images, files, state, reporter } = input;
  const problems: PreflightProblem[] = [...(input.earlier ?? [])];
  const add = (check: string, subject: string, message: string, hint?: string) =>
    problems.push({ check, subject, message, ...(hint ? { hint } : {}) });

  reporter.step("preflight 1/6: engine and compose");
  const engine = await engineVersion();
  if (!engine) add("engine", "docker", "the Docker engine does not answer", "start dockerd, or bring the lab up");
  const compose = await detectCompose();
  if (!compose)
    add("compose", "docker compose", "no Docker Compose answers", "install the compose plugin (the lab builds it)");
  else reporter.info(`engine ${engine ?? "?"}, compose ${compose.version}`);

  reporter.step(`preflight 2/6: ${images.size} image digests in the private registry`);
  const verified = new Set<string>();
  let done = 0;
  await Promise.all(
    [...new Set(images.values())].map(async (reference) => {
      const found = await verifyDigestPresent(reference);
      const users = [...images]
        .filter(([, r]) => r === reference)
        .map(([s]) => s)
        .join(", ");
      for (const p of found) add("image", users, p, "run the mirror (lock → mirror) or the build so the digest exists");
      if (found.length === 0) verified.add(reference);
      done += 1;
      reporter.info(`images ${done}/${new Set(images.values()).size} checked`);
    }),
  );

  reporter.step("preflight 3/6: ports");
  const ours = engine ? await projectPublishedPorts(project) : new Set<number>();
  for (const service of model.services) {
    for (const p of service.ports) {
      if (!p.publish) continue;
      const host = p.publish.bind === "all" ? model.gatewayBind : "127.0.0.1";
      if (ours.has(p.publish.host)) continue;
      if (!(await portFree(host, p.publish.host))) {
        add(
          "port",
          `${service.name} ${host}:${p.publish.host}`,
          "the port is taken by something outside this deployment",
          "free it, or choose other ports (--gateway-port / --s3-port)",
        );
      }
    }
  }

  reporter.step("preflight 4/6: secrets");
  const secrets = inspectSecrets(state.secretsFile);
  for (const p of secrets.problems) add("secrets", state.secretsFile, p);
  if (secrets.missing.length > 0 && secrets.problems.length === 0)
    reporter.info(`${secrets.missing.length} secret(s) will be generated on apply`);

  reporter.step("preflight 5/6: compose file");
  if (files.size === 0) {
    reporter.info("skipped: the configs cannot be rendered until every image resolves (see the image problems)");
    return problems;
  }
  // A staging copy: the running stack's files are not touched. Missing secrets get random placeholders, so
  // interpolation is checked without creating the real ones (that is apply's job).
  const staging = mkdtempSync(join(tmpdir(), `e2e3d-preflight-${project}-`));
  try {
    writeFiles(join(staging, "files"), files);
    const envFile = join(staging, "placeholder.env");
    const useReal = secrets.exists && secrets.missing.length === 0 && secrets.problems.length === 0;
    if (!useReal) {
      const lines = SECRET_NAMES.map((n) => `${secretVariable(n)}=preflight${randomBytes(16).toString("hex")}`);
      writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
    }
    if (compose) {
      const error = await composeValidate({
        project,
        composeFile: join(staging, "files", COMPOSE_FILE),
        envFile: useReal ? state.secretsFile : envFile,
      });
      if (error) add("config", "compose", `docker compose config rejects the generated file: ${error}`);
    }

    reporter.step("preflight 6/6: nginx -t and promtool in their images");
    const validators: Array<{ service: string; run: (image: string) => Promise<{ ok: boolean; output: string }> }> = [
      {
        service: S.gateway,
        run: (image) =>
          runValidator(
            image,
            "nginx",
            ["-t", "-c", "/etc/nginx/nginx.conf"],
            [{ source: join(staging, "files", "nginx", "nginx.conf"), target: "/etc/nginx/nginx.conf" }],
          ),
      },
      {
        service: S.prometheus,
        run: (image) =>
          runValidator(
            image,
            "promtool",
            ["check", "config", "/etc/prometheus/prometheus.yml"],
            [{ source: join(staging, "files", "prometheus"), target: "/etc/prometheus" }],
          ),
      },
    ];
    for (const v of validators) {
      const image = images.get(v.service);
      if (!image || !engine) continue;
      if (!verified.has(image)) {
        add("config", v.service, "cannot validate its config: the image is not in the private registry (see above)");
        continue;
      }
      const pullError = await pullImage(image);
      if (pullError) {
        add("image", v.service, `pull failed: ${pullError}`);
        continue;
      }
      const result = await v.run(image);
      if (!result.ok) add("config", v.service, `the generated config is rejected by its validator:\n${result.output}`);
      else reporter.info(`${v.service}: config valid`);
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return problems;
}
