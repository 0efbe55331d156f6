// How the Dagger adapter finds its CLI and refuses a version mismatch, before the SDK starts anything. The CLI here
// is a two-line shell script that prints a version: a stand-in for `dagger version` only, because this test is
// about choosing and checking the CLI, not about talking to an engine (dagger-engine.int.test.ts does that).
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DaggerUnavailableError,
  daggerSdkVersion,
  parseCliVersion,
  prepareDaggerConnection,
} from "../src/engines/dagger-cli.js";

let dir: string;
const fakeCli = async (name: string, version: string) => {
  const path = join(dir, name, "dagger");
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(
    path,
    `#!/bin/sh\necho "dagger v${version} (docker-image://registry.dagger.io/engine:v${version}) linux/amd64"\n`,
  );
  await chmod(path, 0o755);
  return path;
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "e2e3d-dagger-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("Dagger CLI and SDK versions", () => {
  it("reads the installed SDK's version (pinned exactly in .projenrc.ts)", () => {
    expect(daggerSdkVersion()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("parses the CLI's version line", () => {
    expect(parseCliVersion("dagger v0.21.8 (docker-image://registry.dagger.io/engine:v0.21.8) linux/amd64")).toBe(
      "0.21.8",
    );
    expect(parseCliVersion("no version here")).toBeUndefined();
  });

  it("exports a CLI found on PATH as _EXPERIMENTAL_DAGGER_CLI_BIN, the only way the SDK will use it", async () => {
    const cli = await fakeCli("match", daggerSdkVersion());
    const env: NodeJS.ProcessEnv = { PATH: join(dir, "match") };
    expect(prepareDaggerConnection(env)).toMatchObject({ via: "cli", cli, cliVersion: daggerSdkVersion() });
    expect(env["_EXPERIMENTAL_DAGGER_CLI_BIN"]).toBe(cli);
  });

  it("refuses a CLI of another version, naming both versions and the fix", async () => {
    await fakeCli("other", "0.21.9");
    const error = (() => {
      try {
        prepareDaggerConnection({ PATH: join(dir, "other") });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(DaggerUnavailableError);
    expect((error as Error).message).toContain(`v0.21.9 but the SDK is v${daggerSdkVersion()}`);
    expect((error as DaggerUnavailableError).hint).toContain("DAGGER_VERSION");
  });

  it("without a session or CLI, says the SDK's download cannot work and how to fix it", () => {
    expect(() => prepareDaggerConnection({ PATH: join(dir, "nothing-here") })).toThrow(
      /no Dagger session and no dagger CLI/,
    );
  });

  it("inside `dagger run` uses the session and does not look for a CLI", () => {
    expect(prepareDaggerConnection({ DAGGER_SESSION_PORT: "41234", PATH: "" })).toEqual({
      via: "session",
      sdkVersion: daggerSdkVersion(),
    });
  });
});
