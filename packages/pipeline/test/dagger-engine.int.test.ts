// The Dagger adapter against a real Dagger engine: the lab's (tools/lab builds CLI and engine v0.21.8 from the Go
// module proxy and runs the engine with host networking, so it reaches this test's throwaway registry on loopback),
// or the session of `dagger run`. The engine is probed for real before anything runs; where none answers the
// suites are skipped with the probe's answer printed (and CI's skip check refuses that skip when the lab has an engine).
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientFromEnv } from "@e2e3d/oci";
import { expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { DaggerEngine } from "../src/engines/dagger.js";
import { DaggerUnavailableError, daggerSdkVersion } from "../src/engines/dagger-cli.js";
import { DockerEngine } from "../src/engines/docker.js";
import type { BuildRequest, Engine } from "../src/engines/engine.js";
import { onPath } from "../src/engines/select.js";
import { EngineError } from "../src/errors.js";
import { ImageRegistry, splitRepository } from "../src/registry.js";
import { seedBaseAndLock } from "../src/testing/lab-fixture.js";
import { listTags, startRegistry } from "../src/testing/registry-server.js";
import { engineContract, useBuildBench } from "./support/engine-contract.js";
import { captureLogger, DOCKER, integrationSkipReason } from "./support/env.js";
import { type ImageContents, readImageContents } from "./support/image-contents.js";

async function daggerSkipReason(): Promise<string | undefined> {
  const other = integrationSkipReason();
  if (other) return other;
  try {
    await new DaggerEngine().describe(captureLogger().log);
    return undefined;
  } catch (error) {
    // Only an absent engine or CLI is a reason to skip. A CLI/SDK/engine version mismatch, or any other failure, is
    // what this suite exists to catch: the suites run and fail with it.
    const message = (error as Error).message.split("\n")[0] ?? "";
    const absent =
      (error instanceof DaggerUnavailableError && message.startsWith("no Dagger session and no dagger CLI")) ||
      (error instanceof EngineError && message.startsWith("no Dagger engine answers"));
    return absent ? `no Dagger engine answers: ${message}` : undefined;
  }
}

const skipReason = await daggerSkipReason();

describeUnless(skipReason)("engine contract: Dagger", () => {
  engineContract(() => new DaggerEngine());
});

describeUnless(skipReason)("Dagger engine against the lab", () => {
  const bench = useBuildBench();

  const request = (name: string, dir: string, extra: Partial<BuildRequest> = {}): BuildRequest => ({
    name,
    contextDir: join(bench.contexts, dir),
    dockerfile: "Dockerfile",
    buildArgs: { BASE_IMAGE: bench.base, GREETING: "same" },
    publishTo: `${bench.registry.address}/e2e3d/${name}:in-test`,
    sourceDateEpoch: 1_700_000_000,
    ...extra,
  });
  const contentsOf = async (engine: Engine, name: string) => {
    const published = await engine.buildAndPublish(request(name, "app"), captureLogger().log);
    return readImageContents(
      bench.client.client,
      { ...splitRepository(`${bench.registry.address}/e2e3d/${name}`), digest: published.digest },
      ["opt/app/greeting"],
    );
  };

  it("the CLI, the SDK and the engine are one version", async () => {
    const description = await new DaggerEngine().describe(captureLogger().log);
    expect(description).toContain(`engine v${daggerSdkVersion()}`);
    const cli = process.env["_EXPERIMENTAL_DAGGER_CLI_BIN"];
    if (cli) expect(execFileSync(cli, ["version"], { encoding: "utf8" })).toContain(`v${daggerSdkVersion()}`);
  });

  it("builds the same image as the Docker engine: files, owners, modes, user, command, labels, environment", async () => {
    const docker = await contentsOf(new DockerEngine({ client: DOCKER }), "equal-docker");
    const dagger = await contentsOf(new DaggerEngine(), "equal-dagger");
    expect(dagger.config.User).toBe(docker.config.User);
    expect(dagger.config.Cmd).toEqual(docker.config.Cmd);
    expect(dagger.config.Entrypoint ?? null).toEqual(docker.config.Entrypoint ?? null);
    // No WORKDIR: BuildKit's Dockerfile frontend in Docker leaves it unset, Dagger's writes "/"; both run in "/".
    const workingDir = (config: { WorkingDir?: string }) => config.WorkingDir || "/";
    expect(workingDir(dagger.config)).toBe(workingDir(docker.config));
    expect([...(dagger.config.Env ?? [])].sort()).toEqual([...(docker.config.Env ?? [])].sort());
    expect(dagger.config.Labels ?? {}).toEqual(docker.config.Labels ?? {});
    // Regular files and links, with owner, mode and content. Directories are left out: each engine writes the
    // parent directories of what a layer changes differently (same tree, different tar entries).
    const entries = (image: ImageContents) =>
      Object.fromEntries([...image.files].filter(([, file]) => file.type !== "directory"));
    expect(entries(dagger)).toEqual(entries(docker));
    expect(dagger.files.get("opt/app/greeting")?.text).toBe("same\n");
  });

  it("under `dagger run`, connects through the session it opened (not a CLI of its own) and publishes", async () => {
    const cli = process.env["_EXPERIMENTAL_DAGGER_CLI_BIN"] ?? onPath("dagger");
    expect(cli, "a dagger CLI (the lab links one as /usr/local/bin/dagger)").toBeDefined();
    const env = { ...process.env };
    delete env["DAGGER_SESSION_PORT"];
    delete env["DAGGER_SESSION_TOKEN"];
    delete env["_EXPERIMENTAL_DAGGER_CLI_BIN"];
    const publishTo = `${bench.registry.address}/e2e3d/session:in-test`;
    const script = join(import.meta.dirname, "support", "session-build.ts");
    const result = spawnSync(cli!, ["run", "npx", "tsx", script, join(bench.contexts, "app"), bench.base, publishTo], {
      encoding: "utf8",
      env,
      timeout: 600_000,
    });
    expect(result.status, `${result.stdout}\n${result.stderr.slice(-4000)}`).toBe(0);
    const line = result.stdout.split("\n").find((l) => l.startsWith("{"));
    const published = JSON.parse(line ?? "{}") as { via: string; description: string; digest: string };
    expect(published.via).toBe("session");
    expect(published.description).toContain("through the dagger run session");
    expect(await bench.client.head(splitRepository(`${bench.registry.address}/e2e3d/session`), "in-test")).toBe(
      published.digest,
    );
  });

  it("with registry credentials, pulls a private bench.base and pushes to a registry that requires them", async () => {
    const user = { username: "ci", password: "dagger-pa55-not-in-any-log" };
    const dir = await mkdtemp(join(tmpdir(), "e2e3d-dagger-auth-"));
    // bcrypt from libxcrypt through Debian's Python (no htpasswd binary on these machines); the registry checks it.
    const hash = execFileSync("/usr/bin/python3", [
      "-W",
      "ignore",
      "-c",
      "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))",
      user.password,
    ])
      .toString()
      .trim();
    await writeFile(join(dir, "htpasswd"), `${user.username}:${hash}\n`);
    const authed = await startRegistry({
      extraConfig: ["auth:", "  htpasswd:", "    realm: e2e3d-test", `    path: ${join(dir, "htpasswd")}`].join("\n"),
    });
    try {
      const env = { ...process.env, E2E3D_REGISTRY_CREDENTIALS: JSON.stringify({ [authed.address]: user }) };
      const { baseDigest } = await seedBaseAndLock(authed.address, env);
      const privateBase = `${authed.address}/docker.io/library/debian@${baseDigest}`;
      const build = (engine: DaggerEngine, log = captureLogger().log) =>
        engine.buildAndPublish(
          request("authed", "app", {
            buildArgs: { BASE_IMAGE: privateBase, GREETING: "authed" },
            publishTo: `${authed.address}/e2e3d/authed:in-test`,
          }),
          log,
        );
      // Without credentials the engine cannot even read the base: the registry really requires them.
      expect(await build(new DaggerEngine()).catch((e: unknown) => e)).toBeInstanceOf(EngineError);
      const { log, text } = captureLogger();
      const published = await build(new DaggerEngine(user), log);
      const authedClient = new ImageRegistry(clientFromEnv(env));
      try {
        expect(await authedClient.head(splitRepository(`${authed.address}/e2e3d/authed`), "in-test")).toBe(
          published.digest,
        );
      } finally {
        await authedClient.close();
      }
      expect(text()).not.toContain(user.password);
    } finally {
      await authed.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a build secret larger than setSecret's limit is refused before the engine runs, and nothing is pushed", async () => {
    const big = join(bench.contexts, "big-bundle.pem");
    await writeFile(big, "x".repeat(219_597));
    const error = await new DaggerEngine()
      .buildAndPublish(request("secret-big", "secret", { secrets: { ca_bundle: big } }), captureLogger().log)
      .catch((e: unknown) => e);
    expect((error as Error).message).toContain("219597 bytes");
    expect(await listTags(bench.registry.address, "e2e3d/secret-big")).toEqual([]);
  });

  it("a build secret within the limit reaches the RUN step whole", async () => {
    const bundle = join(bench.contexts, "bundle.pem");
    const text = "y".repeat(120_000);
    await writeFile(bundle, text);
    const published = await new DaggerEngine().buildAndPublish(
      request("secret-ok", "secret", { secrets: { ca_bundle: bundle } }),
      captureLogger().log,
    );
    const image = await readImageContents(
      bench.client.client,
      { ...splitRepository(`${bench.registry.address}/e2e3d/secret-ok`), digest: published.digest },
      ["opt/secret/bytes"],
    );
    expect(image.files.get("opt/secret/bytes")?.text?.trim()).toBe("120000");
    expect([...image.files.keys()].some((path) => path.startsWith("run/secrets/"))).toBe(false);
  });

  it("a registry the engine cannot reach fails with the registry named and the fix, and no tag anywhere", async () => {
    const error = await new DaggerEngine()
      .buildAndPublish(
        request("unreachable", "app", { publishTo: "127.0.0.1:9/e2e3d/unreachable:in-test" }),
        captureLogger().log,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).message).toContain("127.0.0.1:9");
    expect((error as EngineError).hint).toContain("must reach 127.0.0.1:9");
  });

  it("an engine that does not answer is a clear error naming the fix", async () => {
    const saved = process.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"];
    process.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"] = "tcp://127.0.0.1:9";
    // Nothing listens on port 9: the adapter's connect deadline, not the SDK's fixed 300 s, ends the wait.
    process.env["E2E3D_DAGGER_CONNECT_TIMEOUT_S"] = "20";
    try {
      const error = await new DaggerEngine().describe(captureLogger().log).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineError);
      expect((error as EngineError).message).toContain("no Dagger engine answers");
      expect((error as EngineError).hint).toContain("tools/lab/src/cli.ts up");
    } finally {
      delete process.env["E2E3D_DAGGER_CONNECT_TIMEOUT_S"];
      if (saved === undefined) delete process.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"];
      else process.env["_EXPERIMENTAL_DAGGER_RUNNER_HOST"] = saved;
    }
  });
});
