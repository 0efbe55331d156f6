// The release path end to end against a real registry: a throwaway Debian `docker-registry` (distribution 2.8, the
// same server as the lab's) on a free loopback port, real images pushed to it, then `pipelines/release.ts` run as a
// process exactly as the release workflow runs it.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  attachArtifact,
  clientFromEnv,
  MediaType,
  parseReference,
  type RegistryClient,
  sha256Digest,
} from "@e2e3d/oci";
import { ARTIFACT_TYPES } from "@e2e3d/pipeline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RegistryServer,
  registryUnavailableReason,
  startRegistry,
} from "../../../packages/pipeline/src/testing/registry-server.js";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "../../..");
const TSX = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";
/** The build's input digest of each image: the gate carries it, never checks it against anything. */
const INPUT_DIGEST = `sha256:${"c".repeat(64)}`;

/**
 * Pushes a small single-platform image (a config and one layer of random bytes); returns its reference by digest.
 * Attested (the default) like the build leaves it: an SBOM and a provenance statement attached as referrers.
 */
async function pushImage(client: RegistryClient, repository: string, attested = true): Promise<string> {
  const ref = parseReference(repository);
  const layer = Buffer.from(`layer of ${repository} ${Math.random()}`);
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Digest(layer)] } }),
  );
  for (const blob of [layer, config])
    await client.uploadBlob(ref, { digest: sha256Digest(blob), size: blob.length }, blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256Digest(config),
        size: config.length,
      },
      layers: [
        { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256Digest(layer), size: layer.length },
      ],
    }),
  );
  const digest = sha256Digest(manifest);
  await client.putManifest(parseReference(`${repository}:sha-${COMMIT.slice(0, 7)}`), manifest, MediaType.ociManifest);
  if (attested) {
    for (const [kind, artifactType] of Object.entries(ARTIFACT_TYPES)) {
      const content = Buffer.from(JSON.stringify({ kind, subject: digest }));
      await attachArtifact(client, parseReference(`${repository}@${digest}`), { artifactType, content });
    }
  }
  return `${repository}@${digest}`;
}

describe("release on a real registry", () => {
  let registry: RegistryServer | undefined;
  let dir = "";
  let host = "";
  let client: RegistryClient;
  let images: { name: string; reference: string }[] = [];

  beforeAll(async () => {
    if (registryUnavailableReason()) {
      throw new Error(`${registryUnavailableReason()} (the lab does: npx tsx tools/lab/src/cli.ts up)`);
    }
    dir = mkdtempSync(join(tmpdir(), "release-int-"));
    // The shared throwaway registry: a free port (retried if taken meanwhile), waits until it is ours that answers.
    registry = await startRegistry();
    host = registry.address;
    client = clientFromEnv({});
    images = [
      { name: "reconstruction", reference: await pushImage(client, `${host}/e2e3d/reconstruction`) },
      { name: "airflow", reference: await pushImage(client, `${host}/e2e3d/airflow`) },
    ];
  });

  afterAll(async () => {
    await client?.close();
    await registry?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const writeReports = (name: string, test: object) => {
    const build = join(dir, `${name}-build.json`);
    const tests = join(dir, `${name}-test.json`);
    writeFileSync(
      build,
      JSON.stringify({ commit: COMMIT, images: images.map((i) => ({ ...i, tags: [], inputDigest: INPUT_DIGEST })) }),
    );
    writeFileSync(tests, JSON.stringify({ commit: COMMIT, digests: images.map((i) => i.reference), ...test }));
    return { build, tests };
  };
  const release = (
    reports: { build: string; tests: string; moreTests?: string[] },
    version: string,
    out?: string,
    actions = false,
  ) =>
    // node + tsx's CLI directly, not npx: npx may print its own notices on stderr, which is asserted empty below.
    run(
      process.execPath,
      [
        TSX,
        "pipelines/release.ts",
        "--build-report",
        reports.build,
        "--test-report",
        reports.tests,
        ...(reports.moreTests ?? []).flatMap((file) => ["--test-report", file]),
        "--commit",
        COMMIT,
        "--version",
        version,
        ...(out ? ["--out", out] : []),
      ],
      { cwd: ROOT, env: { ...process.env, E2E3D_REGISTRY_CREDENTIALS: "", GITHUB_ACTIONS: actions ? "true" : "" } },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const resolve = async (repositoryAtDigest: string, tag: string) => {
    const repository = repositoryAtDigest.slice(0, repositoryAtDigest.lastIndexOf("@"));
    return (await client.headManifest(parseReference(`${repository}:${tag}`)))?.digest;
  };
  const digestOf = (reference: string) => reference.slice(reference.lastIndexOf("@") + 1);

  it("refuses a failing test report with a clear message and tags nothing", async () => {
    const reports = writeReports("failing", {
      outcome: "failed",
      suites: [
        { name: "end-to-end", outcome: "passed" },
        { name: "security", outcome: "failed", reason: "grafana accepted admin/admin" },
      ],
    });
    const result = await release(reports, "v0.9.0");
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("promotion refused");
    expect(result.stderr).toContain("security failed (grafana accepted admin/admin)");
    for (const image of images) expect(await resolve(image.reference, "v0.9.0")).toBeUndefined();

    // In GitHub Actions the refusal is an error annotation on the run page.
    const annotated = await release(reports, "v0.9.0", undefined, true);
    expect(annotated.code).toBe(1);
    expect(annotated.stdout).toMatch(/^::error title=release refused::error: promotion refused:/m);
  });

  it("promotes a passing report: the release tags resolve to the tested digests", async () => {
    const reports = writeReports("passing", {
      outcome: "passed",
      suites: [{ name: "end-to-end", outcome: "passed", seconds: 1 }],
    });
    const out = join(dir, "release-report.json");
    const result = await release(reports, "v1.0.0", out);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("released v1.0.0: 2 image(s) promoted");
    for (const image of images) expect(await resolve(image.reference, "v1.0.0")).toBe(digestOf(image.reference));
    expect(existsSync(out)).toBe(true);

    // Promoting the same version again is a no-op, not an error.
    const again = await release(reports, "v1.0.0");
    expect(again.code).toBe(0);
  });

  it("never moves an existing release tag to another digest", async () => {
    const newer = await pushImage(client, `${host}/e2e3d/airflow`);
    const moved = images.map((i) => (i.name === "airflow" ? { ...i, reference: newer } : i));
    const saved = images;
    images = moved;
    try {
      const reports = writeReports("moved", { outcome: "passed", suites: [{ name: "end-to-end", outcome: "passed" }] });
      const result = await release(reports, "v1.0.0");
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/release tags are immutable: .*e2e3d\/airflow:v1\.0\.0 already points at sha256:/);
    } finally {
      images = saved;
    }
    // Nothing moved, the reconstruction tag included (every target is checked before any is written).
    for (const image of saved) expect(await resolve(image.reference, "v1.0.0")).toBe(digestOf(image.reference));
  });

  it("releases a GPU image only with the GPU suite's passed report next to ci's", async () => {
    const gpu = { name: "reconstruction-gpu", reference: await pushImage(client, `${host}/e2e3d/reconstruction-gpu`) };
    const build = join(dir, "gpu-build.json");
    writeFileSync(
      build,
      JSON.stringify({
        commit: COMMIT,
        images: [...images, gpu].map((i) => ({ ...i, tags: [], inputDigest: INPUT_DIGEST })),
      }),
    );
    const { tests } = writeReports("gpu-ci", {
      outcome: "passed",
      suites: [{ name: "end-to-end", outcome: "passed" }],
    });
    const gpuTests = join(dir, "gpu-test.json");
    writeFileSync(
      gpuTests,
      JSON.stringify({
        commit: COMMIT,
        digests: [gpu.reference],
        outcome: "passed",
        suites: [{ name: "gpu", outcome: "passed" }],
      }),
    );

    const without = await release({ build, tests }, "v2.0.0");
    expect(without.code).toBe(1);
    expect(without.stderr).toContain(`reconstruction-gpu: ${gpu.reference} is not among the digests the suites tested`);
    expect(await resolve(gpu.reference, "v2.0.0")).toBeUndefined();

    const withGpu = await release({ build, tests, moreTests: [gpuTests] }, "v2.0.0");
    expect(withGpu.stderr).toBe("");
    expect(withGpu.code).toBe(0);
    expect(withGpu.stdout).toContain("released v2.0.0: 3 image(s) promoted");
    expect(await resolve(gpu.reference, "v2.0.0")).toBe(digestOf(gpu.reference));
  });

  it("refuses an image without its SBOM and provenance, naming what is missing, and tags nothing", async () => {
    const bare = { name: "airflow", reference: await pushImage(client, `${host}/e2e3d/airflow`, false) };
    const saved = images;
    images = [saved[0]!, bare];
    try {
      const reports = writeReports("unattested", {
        outcome: "passed",
        suites: [{ name: "end-to-end", outcome: "passed" }],
      });
      const result = await release(reports, "v3.0.0");
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`airflow: ${bare.reference} has no sbom and no provenance attached`);
      expect(result.stderr).toMatch(/run pipelines\/build\.ts again for this commit/);
      for (const image of images) expect(await resolve(image.reference, "v3.0.0")).toBeUndefined();
    } finally {
      images = saved;
    }
  });
});
