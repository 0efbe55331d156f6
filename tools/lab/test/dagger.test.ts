// The lab's Dagger engine, without building it: the version pin agrees with the SDK's, the engine container gets what
// --privileged would give minus what these machines refuse, and the lab's `dagger` wrapper sets its defaults only
// where the caller did not. (dagger-engine.int.test.ts in packages/pipeline runs builds against the real engine.)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pinnedDaggerVersion, sourceHash } from "../src/dagger/build.js";
import { engineConfig, runArguments } from "../src/dagger/container.js";
import { wrapperScript } from "../src/dagger/wrapper.js";
import { REPO_ROOT } from "./lab-process.js";

describe("lab Dagger engine", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-dagger-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("builds the CLI and engine at exactly the installed SDK's version (and .projenrc.ts's DAGGER_VERSION)", () => {
    const sdkPackage = join(
      dirname(createRequire(join(REPO_ROOT, "package.json")).resolve("@dagger.io/dagger")),
      "..",
      "..",
      "package.json",
    );
    const sdk = JSON.parse(readFileSync(sdkPackage, "utf8")) as { name: string; version: string };
    expect(sdk.name).toBe("@dagger.io/dagger");
    expect(pinnedDaggerVersion()).toBe(`v${sdk.version}`);
    const projenrc = readFileSync(join(REPO_ROOT, ".projenrc.ts"), "utf8");
    expect(/DAGGER_VERSION\s*=\s*"([^"]+)"/.exec(projenrc)?.[1]).toBe(sdk.version);
  });

  it("caches the binaries by their sources: another Go version is another build", () => {
    expect(sourceHash("1.26.8")).toBe(sourceHash("1.26.8"));
    expect(sourceHash("1.26.8")).not.toBe(sourceHash("1.27.0"));
  });

  it("runs the engine without --privileged, on the host network, with its state in a volume", () => {
    const args = runArguments(
      "dagger-engine-v0.21.8",
      { reference: "r", id: "sha256:abc", inputs: "x", seconds: 0 },
      "/s/engine.json",
    );
    expect(args).not.toContain("--privileged");
    expect(args.join(" ")).toContain("--cap-add ALL --cap-drop SYS_RESOURCE");
    expect(args.join(" ")).toContain("--network host");
    expect(args).toContain("dagger-engine-v0.21.8:/var/lib/dagger");
    expect(args.at(-1)).toBe("sha256:abc");
    expect(JSON.parse(engineConfig(["127.0.0.1:5101", "127.0.0.1:5102"]))).toMatchObject({
      registries: {
        "127.0.0.1:5101": { http: true, insecure: true },
        "127.0.0.1:5102": { http: true, insecure: true },
      },
    });
  });

  it("keeps the engine's layer cache by absolute sizes, not a share of a nearly full disk", () => {
    const { gc } = JSON.parse(engineConfig(["127.0.0.1:5101"])) as { gc: Record<string, string> };
    expect(gc["reservedSpace"]).toMatch(/^\d+GB$/);
    expect(Object.values(gc).some((value) => value.endsWith("%"))).toBe(false);
  });

  it("the wrapper sets the runner host and plain progress unless the caller set them, and passes arguments on", async () => {
    // The wrapped "CLI" is a script that prints what it got, so the real shell runs the real wrapper.
    const fake = join(dir, "fake-dagger");
    await writeFile(fake, '#!/bin/sh\necho "$_EXPERIMENTAL_DAGGER_RUNNER_HOST|$DAGGER_PROGRESS|$DO_NOT_TRACK|$*"\n', {
      mode: 0o755,
    });
    const wrapper = join(dir, "dagger");
    await writeFile(wrapper, wrapperScript(fake, "container://dagger-engine-v0.21.8"), { mode: 0o755 });
    const env = { PATH: process.env["PATH"] };
    expect(execFileSync(wrapper, ["run", "a b"], { env, encoding: "utf8" }).trim()).toBe(
      "container://dagger-engine-v0.21.8|plain|1|run a b",
    );
    const chosen = { ...env, _EXPERIMENTAL_DAGGER_RUNNER_HOST: "tcp://10.0.0.1:1234", DAGGER_PROGRESS: "dots" };
    expect(execFileSync(wrapper, ["version"], { env: chosen, encoding: "utf8" }).trim()).toBe(
      "tcp://10.0.0.1:1234|dots|1|version",
    );
  });
});
