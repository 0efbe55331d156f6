// The build pipeline on the real Docker engine against a throwaway registry (Debian's docker-registry on a free
// loopback port), with the lab's base image copied under its origin path and a lock naming it.
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseReference, readArtifact, referrersTag } from "@e2e3d/oci";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { AttestationError, attestImage, existingAttestations } from "../src/attest/attest.js";
import { readAttestations } from "../src/attest/read.js";
import { runBuildCommand } from "../src/build/command.js";
import { type BuiltImage, readBuildReport } from "../src/build/report.js";
import { type BuildPipelineOptions, runBuildPipeline } from "../src/build/run.js";
import { createEngine } from "../src/engines/select.js";
import { readGitInfo } from "../src/git.js";
import { ImageRegistry, splitRepository } from "../src/registry.js";
import { listTags } from "../src/testing/registry-server.js";
import { captureLogger, createWorkspace, DOCKER, integrationSkipReason, type Workspace } from "./support/env.js";

const skipReason = integrationSkipReason();

describeUnless(skipReason)("build pipeline on the Docker engine", () => {
  let ws: Workspace;
  let registry: ImageRegistry;
  let engineStarts = 0;

  beforeAll(async () => {
    ws = await createWorkspace();
    registry = new ImageRegistry();
  });
  afterAll(async () => {
    await registry?.close();
    await ws?.cleanup();
  });

  async function build(names: string[], extra: Partial<BuildPipelineOptions> = {}) {
    const { log, text } = captureLogger();
    const report = await runBuildPipeline({
      root: ws.root,
      images: ws.table.filter((i) => names.includes(i.name)),
      registry: ws.registry.address,
      lockFile: ws.lockFile,
      lintDirs: [join(ws.root, "images")],
      engine: { name: "docker", reason: "test" },
      createEngine: () => {
        engineStarts++;
        return createEngine("docker", { dockerClient: DOCKER });
      },
      registryClient: registry,
      git: await readGitInfo(log, ws.root, {}),
      log,
      ...extra,
    });
    return { report, output: text() };
  }
  const repoOf = (name: string) => splitRepository(`${ws.registry.address}/e2e3d/${name}`);

  let first: { digest: string; inputDigest: string };
  let attestations: NonNullable<BuiltImage["attestations"]>;

  async function readSbomPurls(reference: string, digest: string): Promise<string[]> {
    const { content } = await readArtifact(registry.client, parseReference(reference), { digest });
    return (JSON.parse(content.toString("utf8")) as { components: { purl: string }[] }).components.map((c) => c.purl);
  }

  it("builds a fixture, pushes it by digest and tags it with the input digest, commit and branch", async () => {
    const { report, output } = await build(["app"]);
    expect(report.status, output).toBe("passed");
    const image = report.images[0]!;
    expect(image).toMatchObject({ name: "app", cacheHit: false, engine: "docker" });
    expect(image.reference).toBe(`${ws.registry.address}/e2e3d/app@${image.digest}`);
    expect(image.tags).toEqual([`in-${image.inputDigest.slice(7)}`, `sha-${ws.commit}`, "main"]);
    // Every tag resolves to the reported digest in the registry itself.
    for (const tag of image.tags) expect(await registry.head(repoOf("app"), tag)).toBe(image.digest);
    // Plus the referrers fallback tag: distribution 2.8 has no referrers API (the attestations below).
    expect((await listTags(ws.registry.address, "e2e3d/app")).sort()).toEqual(
      [...image.tags, referrersTag(image.digest)].sort(),
    );
    expect(image.sizeBytes).toBeGreaterThan(10_000_000); // the debootstrap base is ~70 MB compressed
    expect(image.buildSeconds).toBeGreaterThan(0);
    expect(report.commit).toBe(ws.commit);
    expect(output).toContain("▶ app: [stage-0 2/4] RUN");
    // The pushed image is the real thing: run it by digest.
    const run = execFileSync(DOCKER, ["run", "--rm", image.reference], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    execFileSync(DOCKER, ["image", "rm", image.reference], { stdio: "ignore" });
    expect(run.trim()).toBe("fixture app: version 1");
    first = image;

    // SBOM and provenance are attached as referrers of the digest and read back from the registry.
    expect(image.attestations?.map((a) => [a.kind, a.attached])).toEqual([
      ["sbom", true],
      ["provenance", true],
    ]);
    expect(output).toMatch(/sbom: \d+ components \(deb \d+/);
    const view = await readAttestations(registry.client, parseReference(image.reference));
    expect(view.referrers.map((r) => r.digest).sort()).toEqual(image.attestations!.map((a) => a.digest).sort());
    // The lab base is debootstrap minbase: dpkg and bash are in it.
    expect(view.sbom?.byPurlType["deb"]).toBeGreaterThan(50);
    expect(view.sbom?.components).toBe(image.attestations![0]!.components);
    const sbom = await readSbomPurls(image.reference, image.attestations![0]!.digest);
    expect(sbom.some((purl) => purl.startsWith("pkg:deb/debian/dpkg@"))).toBe(true);
    expect(sbom.some((purl) => purl.startsWith("pkg:deb/debian/bash@"))).toBe(true);
    expect(view.provenance).toMatchObject({
      commit: ws.commit,
      dirty: false,
      base: image.base.reference,
      builder: "https://e2e3d.dev/builders/docker",
      inputDigest: image.inputDigest,
    });
    attestations = image.attestations!;
  });

  it("skips the second run by input digest without starting an engine", async () => {
    const starts = engineStarts;
    const { report, output } = await build(["app"]);
    expect(report.status, output).toBe("passed");
    expect(report.images[0]).toMatchObject({
      cacheHit: true,
      engine: null,
      digest: first.digest,
      inputDigest: first.inputDigest,
    });
    // "Fast" is asserted by what did not happen (no engine started), not by a wall-clock bound.
    expect(engineStarts).toBe(starts);
    expect(report.engine.description).toBeUndefined();
    // The same image keeps its attestations: nothing new is attached, the fallback index is unchanged.
    expect(report.images[0]!.attestations).toEqual(attestations.map((a) => ({ ...a, attached: false })));
    const image = parseReference(report.images[0]!.reference);
    expect((await registry.client.listReferrers(image, first.digest)).referrers).toHaveLength(2);
  });

  it("attaches attestations once to a cached image that has none (built before they existed)", async () => {
    const image = parseReference(`${ws.registry.address}/e2e3d/app@${first.digest}`);
    // Forget the attestations: the fallback index is what makes them findable on this registry.
    const index = await registry.client.getManifest({ ...image, digest: undefined, tag: referrersTag(first.digest) });
    await registry.client.deleteManifest({ ...image, digest: index.digest });
    expect((await existingAttestations(registry.client, image)).size).toBe(0);

    const { report, output } = await build(["app"]);
    expect(report.status, output).toBe("passed");
    const again = report.images[0]!;
    expect(again.cacheHit).toBe(true);
    expect(again.attestations?.map((a) => [a.kind, a.attached])).toEqual([
      ["sbom", true],
      ["provenance", true],
    ]);
    // The SBOM is a function of the image: the same referrer digest as before.
    expect(again.attestations![0]!.digest).toBe(attestations[0]!.digest);
    // No engine ran, so the builder is not known; everything else is.
    const view = await readAttestations(registry.client, image);
    expect(view.provenance).toMatchObject({ builder: "https://e2e3d.dev/builders/unrecorded", commit: ws.commit });
    const { report: third } = await build(["app"]);
    expect(third.images[0]!.attestations?.every((a) => !a.attached)).toBe(true);
    attestations = again.attestations!;
  });

  it("rebuilds after a source change, and withholds commit/branch tags while the change is uncommitted", async () => {
    const probe = join(ws.root, "images/app/src/data.txt");
    const original = await readFile(probe, "utf8");
    await writeFile(probe, "version 2\n");
    try {
      const { report, output } = await build(["app"]);
      expect(report.status, output).toBe("passed");
      const image = report.images[0]!;
      expect(image.cacheHit).toBe(false);
      expect(image.inputDigest).not.toBe(first.inputDigest);
      expect(image.digest).not.toBe(first.digest);
      expect(image.tags).toEqual([`in-${image.inputDigest.slice(7)}`]);
      expect(image.tagsWithheld).toMatch(/uncommitted changes/);
      // sha-/main still name the committed build.
      expect(await registry.head(repoOf("app"), "main")).toBe(first.digest);
      // The provenance says the commit does not hold these inputs.
      const view = await readAttestations(registry.client, parseReference(image.reference));
      expect(view.provenance).toMatchObject({ commit: ws.commit, dirty: true, inputDigest: image.inputDigest });
    } finally {
      await writeFile(probe, original);
    }
  });

  it("reports whether a rebuild of the same inputs gave the same digest", async () => {
    const { report, output } = await build(["app"], { rebuild: true });
    expect(report.status, output).toBe("passed");
    const image = report.images[0]!;
    expect(image.inputDigest).toBe(first.inputDigest);
    expect(image.reproducible).toMatchObject({ compared: true, previousDigest: first.digest });
    expect(image.reproducible.sameDigest).toBe(image.digest === first.digest);
    console.log(`reproducibility on this engine: same digest = ${image.reproducible.sameDigest}`);
    first = image;
  });

  it("a failing build shows the failing step and its log tail, exits failed and leaves no tag behind", async () => {
    const { report, output } = await build(["broken"]);
    expect(report.status).toBe("failed");
    expect(report.images).toEqual([]);
    const failure = report.failures[0]!;
    expect(failure.name).toBe("broken");
    expect(failure.step).toContain('RUN echo "fixture: about to fail" && exit 3');
    expect(failure.tail.join("\n")).toContain("fixture: about to fail");
    expect(output).toContain('broken failed at step "[3/4] RUN echo');
    expect(await listTags(ws.registry.address, "e2e3d/broken")).toEqual([]);
  });

  it("a failure to attest is an AttestationError naming the image, the step and the fix", async () => {
    const missing = parseReference(`${ws.registry.address}/e2e3d/app@sha256:${"0".repeat(64)}`);
    const { log } = captureLogger();
    const attempt = attestImage(
      registry.client,
      missing,
      {
        repository: `${ws.registry.address}/e2e3d/app`,
        digest: missing.digest!,
        dockerfile: "images/app/Dockerfile",
        context: "images/app",
        include: [],
        buildArgs: {},
        inputDigest: missing.digest!,
        base: { name: "debian-bookworm", reference: first.digest },
      },
      log,
    );
    await expect(attempt).rejects.toThrow(AttestationError);
    await expect(attempt).rejects.toThrow(
      new RegExp(`attestations of ${missing.registry}/e2e3d/app@sha256:0+: make the SBOM failed: .*404`),
    );
  });

  it("skips an optional image whose base is not locked, with the reason", async () => {
    const { report } = await build(["app-gpu"]);
    expect(report.status).toBe("passed");
    expect(report.skipped).toEqual([
      { name: "app-gpu", reason: expect.stringContaining("no CUDA base on this machine") },
    ]);
  });

  it("writes a report file that the schema accepts, through the same command pipelines/build.ts runs", async () => {
    const home = await mkdtemp(join(tmpdir(), "e2e3d-lab-home-"));
    try {
      const { log } = captureLogger();
      const { reportFile } = await runBuildCommand({
        log,
        root: ws.root,
        table: ws.table,
        images: ["app", "app-gpu"],
        lock: ws.lockFile,
        engine: "docker",
        report: "reports/build.json",
        lintDirs: [join(ws.root, "images")],
        env: {
          ...process.env,
          E2E3D_LAB_HOME: home,
          E2E3D_PRIVATE_REGISTRY: ws.registry.address,
          E2E3D_DOCKER_CLIENT: DOCKER,
        },
      });
      expect(reportFile).toBe(join(ws.root, "reports/build.json"));
      const report = await readBuildReport(reportFile);
      expect(report).toMatchObject({ status: "passed", registry: ws.registry.address, engine: { name: "docker" } });
      expect(report.images.map((i) => [i.name, i.digest, i.cacheHit])).toEqual([["app", first.digest, true]]);
      expect(report.skipped.map((s) => s.name)).toEqual(["app-gpu"]);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
