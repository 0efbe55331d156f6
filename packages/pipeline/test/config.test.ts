import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { branchTag, commitTag } from "../src/build/tags.js";
import { loadPipelineConfig, localCaCertificates } from "../src/config.js";
import { selectEngine } from "../src/engines/select.js";
import { ConfigError } from "../src/errors.js";

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "e2e3d-config-test-"));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe("configuration", () => {
  it("uses defaults and the repository lock when there is no lab", () => {
    const config = loadPipelineConfig({ repoRoot: "/repo" }, { E2E3D_LAB_HOME: home, PATH: "" });
    expect(config).toMatchObject({
      engine: "auto",
      privateRegistry: "127.0.0.1:5102",
      dockerClient: "/usr/bin/docker",
      lab: undefined,
      lockFile: "/repo/docker/images.lock.json",
    });
  });

  it("reads lab.json: endpoints, docker client, and the lab's machine-local lock", async () => {
    await writeFile(
      join(home, "lab.json"),
      JSON.stringify({
        upstream: "127.0.0.1:6101",
        private: "127.0.0.1:6102",
        engine: { dockerClient: "/opt/docker" },
      }),
    );
    const config = loadPipelineConfig({}, { E2E3D_LAB_HOME: home });
    expect(config).toMatchObject({
      privateRegistry: "127.0.0.1:6102",
      upstreamRegistry: "127.0.0.1:6101",
      dockerClient: "/opt/docker",
      lockFile: join(home, "images.lock.json"),
    });
  });

  it("lets arguments override the environment, which overrides lab.json", async () => {
    await writeFile(join(home, "lab.json"), JSON.stringify({ upstream: "127.0.0.1:6101", private: "127.0.0.1:6102" }));
    const env = { E2E3D_LAB_HOME: home, E2E3D_PRIVATE_REGISTRY: "127.0.0.1:7102", E2E3D_ENGINE: "dagger" };
    expect(loadPipelineConfig({}, env)).toMatchObject({ privateRegistry: "127.0.0.1:7102", engine: "dagger" });
    expect(
      loadPipelineConfig({ to: "registry.example.com", engine: "docker", lock: "/x/lock.json" }, env),
    ).toMatchObject({
      privateRegistry: "registry.example.com",
      engine: "docker",
      lockFile: "/x/lock.json",
    });
  });

  it("rejects bad input with a typed error that says how to fix it", async () => {
    expect(() => loadPipelineConfig({ engine: "podman" }, { E2E3D_LAB_HOME: home })).toThrow(ConfigError);
    expect(() => loadPipelineConfig({ to: "http://x/y" }, { E2E3D_LAB_HOME: home })).toThrow(/not a registry address/);
    await writeFile(join(home, "lab.json"), "{not json");
    expect(() => loadPipelineConfig({}, { E2E3D_LAB_HOME: home })).toThrow(/not valid JSON/);
  });
});

describe("engine selection", () => {
  it("auto picks Dagger in a session or with a CLI named or on PATH, Docker otherwise; explicit choices win", async () => {
    expect(selectEngine("auto", { PATH: "" }).name).toBe("docker");
    expect(selectEngine("auto", { PATH: "", DAGGER_SESSION_PORT: "1234" }).name).toBe("dagger");
    await writeFile(join(home, "dagger"), "#!/bin/sh\n", { mode: 0o755 });
    expect(selectEngine("auto", { PATH: home })).toMatchObject({
      name: "dagger",
      reason: expect.stringContaining(home),
    });
    expect(selectEngine("auto", { PATH: "", _EXPERIMENTAL_DAGGER_CLI_BIN: join(home, "dagger") })).toMatchObject({
      name: "dagger",
      reason: expect.stringContaining("_EXPERIMENTAL_DAGGER_CLI_BIN"),
    });
    expect(selectEngine("auto", { PATH: "", _EXPERIMENTAL_DAGGER_CLI_BIN: join(home, "absent") }).name).toBe("docker");
    expect(selectEngine("docker", { DAGGER_SESSION_PORT: "1" }).name).toBe("docker");
    expect(selectEngine("dagger", { PATH: "" }).name).toBe("dagger");
  });
});

describe("tags", () => {
  it("names commits and branches, never latest", () => {
    expect(commitTag("0123abc")).toBe("sha-0123abc");
    expect(commitTag(undefined)).toBeUndefined();
    expect(branchTag("feature/GPU smoke")).toBe("feature-GPU-smoke");
    expect(branchTag("refs/heads/main")).toBe("main");
    expect(branchTag("latest")).toBeUndefined();
    expect(branchTag("-x")).toBe("x");
    expect(branchTag("a".repeat(200))).toHaveLength(128);
  });
});

describe("build secrets", () => {
  it("offers the host's CA bundle as ca_bundle, most specific source first, and can be turned off", async () => {
    const { buildSecretsFrom } = await import("../src/config.js");
    const bundle = join(home, "ca.pem");
    await writeFile(bundle, "-----BEGIN CERTIFICATE-----\n");
    expect(buildSecretsFrom({ E2E3D_CA_BUNDLE: bundle, SSL_CERT_FILE: "/nonexistent" })).toEqual({ ca_bundle: bundle });
    expect(buildSecretsFrom({ SSL_CERT_FILE: "/nonexistent", REQUESTS_CA_BUNDLE: bundle })).toEqual({
      ca_bundle: bundle,
    });
    expect(buildSecretsFrom({ E2E3D_CA_BUNDLE: "" })).toEqual({});
  });
});

describe("the CAs a machine added (what a build behind a TLS-inspecting proxy needs)", () => {
  it("concatenates the PEM .crt files under the local CA directory, in name order, skipping non-PEM files", async () => {
    const pem = (n: number) => `-----BEGIN CERTIFICATE-----\nMIIB${n}\n-----END CERTIFICATE-----\n`;
    await mkdir(join(home, "corp"), { recursive: true });
    await writeFile(join(home, "b-proxy.crt"), pem(2));
    await writeFile(join(home, "corp", "a-root.crt"), pem(1));
    await writeFile(join(home, "notes.txt"), pem(3));
    await writeFile(join(home, "empty.crt"), "not a certificate");
    const found = localCaCertificates(home);
    expect(found?.files.map((f) => f.slice(home.length + 1))).toEqual(["b-proxy.crt", "corp/a-root.crt"]);
    expect(found?.text).toBe(`${pem(2).trim()}\n${pem(1).trim()}\n`);
  });

  it("is undefined where the machine added none", () => {
    expect(localCaCertificates(join(home, "missing"))).toBeUndefined();
  });
});
