import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabStateError } from "../src/errors.js";
import { GRAFANA_NOTE, type LabState, parseLabState, readLabState, writeLabState } from "../src/state.js";

const digest = `sha256:${"ab".repeat(32)}`;

function sampleState(stateDir: string): LabState {
  const registry = (role: string, port: number) => ({
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    configFile: join(stateDir, "registries", role, "config.yml"),
    dataDir: join(stateDir, "registries", role, "data"),
    log: join(stateDir, "registries", role, "registry.log"),
    pidFile: join(stateDir, "registries", role, "registry.pid"),
  });
  return {
    schemaVersion: 1,
    stateDir,
    updatedAt: "2026-01-01T00:00:00.000Z",
    upstream: "127.0.0.1:5101",
    private: "127.0.0.1:5102",
    engine: {
      host: "unix:///var/run/docker.sock",
      dockerClient: "/usr/bin/docker",
      buildkit: true,
      serverVersion: "20.10.24+dfsg1",
      startedByLab: false,
    },
    compose: {
      kind: "v2-plugin",
      version: "v2.40.3",
      plugin: "/usr/local/lib/docker/cli-plugins/docker-compose",
      notes: "n",
    },
    registries: { upstream: registry("upstream", 5101), private: registry("private", 5102) },
    baseImage: {
      repository: "127.0.0.1:5101/docker.io/library/debian",
      tags: ["bookworm", "12.12"],
      digest,
      reference: `127.0.0.1:5101/docker.io/library/debian@${digest}`,
      debianVersion: "12.12",
    },
    standIns: { status: "not available yet", images: [] },
    grafana: GRAFANA_NOTE,
    lastUp: {
      at: "2026-01-01T00:00:00.000Z",
      seconds: 0.2,
      steps: [{ name: "engine", changed: false, detail: "ok", seconds: 0.1 }],
    },
  };
}

describe("lab.json", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-state-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips through write and read", async () => {
    const state = sampleState(dir);
    const path = await writeLabState(state);
    expect(path).toBe(join(dir, "lab.json"));
    expect(await readLabState(dir)).toEqual(state);
  });

  it("tells the user to run `up` when the lab was never brought up", async () => {
    const missing = join(dir, "nowhere");
    await expect(readLabState(missing)).rejects.toThrow(LabStateError);
    await expect(readLabState(missing)).rejects.toMatchObject({
      hint: "run `npx tsx tools/lab/src/cli.ts up` first",
      message: expect.stringContaining(join(missing, "lab.json")),
    });
  });

  it("names the file and the bad fields when lab.json does not match", async () => {
    const broken = { ...sampleState(dir), baseImage: { ...sampleState(dir).baseImage, digest: "sha256:short" } };
    expect(() => parseLabState(JSON.stringify(broken), "/x/lab.json")).toThrow(/does not match the lab state schema/);
    try {
      parseLabState(JSON.stringify(broken), "/x/lab.json");
    } catch (error) {
      expect((error as LabStateError).context["problems"]).toContain("baseImage.digest");
    }
    expect(() => parseLabState("{not json", "/x/lab.json")).toThrow(/not valid JSON/);
  });

  it("refuses to write a state that breaks the schema", async () => {
    const bad = { ...sampleState(dir), schemaVersion: 2 } as unknown as LabState;
    await expect(writeLabState(bad)).rejects.toThrow();
    await writeFile(join(dir, "lab.json"), "[]");
    await expect(readLabState(dir)).rejects.toThrow(LabStateError);
  });
});
