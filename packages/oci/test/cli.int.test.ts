// The pipelines as users run them (npx tsx pipelines/{lock,mirror,promote}.ts), against real registries laid out
// like the lab: an "upstream" holding docker.io/... and quay.io/... paths, and a "private" registry the mirror fills.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { RegistryClient } from "../src/client.js";
import { sha256Digest } from "../src/descriptor.js";
import { readLockFile } from "../src/lock/files.js";
import { mirroredReference } from "../src/mirror.js";
import { parseReference, withTag } from "../src/reference.js";
import { runPipeline, spawnPipeline } from "./support/cli.js";
import { pushImage, pushIndex } from "./support/images.js";
import { type FaultProxy, startFaultProxy } from "./support/proxy.js";
import { registryAvailable, startRegistry, type TestRegistry } from "./support/registry.js";

const exec = promisify(execFile);
const available = registryAvailable({ witness: true });

describeUnless(available.ok ? undefined : available.reason)("lock, mirror and promote pipelines", () => {
  let upstream: TestRegistry;
  let priv: TestRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let dir: string;
  let imagesPath: string;
  let lockPath: string;
  let remap: string[];
  const pushed: Record<string, string> = {};

  const images = (extra = "") => `version: 1
images:
  - name: redis
    source: redis
    tag: 7.2.7
    platforms: [linux/amd64, linux/arm64]
  - name: minio
    source: quay.io/minio/minio
    tag: RELEASE.2025-04-22T22-12-26Z
  - name: debian-bookworm
    source: docker.io/library/debian
    tag: bookworm
${extra}`;

  beforeAll(async () => {
    [upstream, priv] = await Promise.all([startRegistry(), startRegistry()]);
    proxy = await startFaultProxy(upstream.host);
    client = new RegistryClient({ credentials: async () => undefined });
    dir = await mkdtemp(join(tmpdir(), "e2e3d-oci-cli-"));
    imagesPath = join(dir, "images.yaml");
    lockPath = join(dir, "images.lock.json");
    remap = ["--remap", `docker.io=${upstream.host}/docker.io`, "--remap", `quay.io=${upstream.host}/quay.io`];
    pushed["redis"] = (
      await pushIndex(client, `${upstream.host}/docker.io/library/redis`, {
        tag: "7.2.7",
        platforms: [
          { os: "linux", architecture: "amd64", layers: [200_000, 3000] },
          { os: "linux", architecture: "arm64", variant: "v8", layers: [200_000] },
          { os: "linux", architecture: "riscv64", layers: [1000] },
        ],
      })
    ).descriptor.digest;
    pushed["minio"] = (
      await pushImage(client, `${upstream.host}/quay.io/minio/minio`, {
        layers: [500_000],
        tag: "RELEASE.2025-04-22T22-12-26Z",
      })
    ).descriptor.digest;
    pushed["debian-bookworm"] = (
      await pushIndex(client, `${upstream.host}/docker.io/library/debian`, {
        tag: "bookworm",
        docker: true,
        platforms: [{ os: "linux", architecture: "amd64", layers: [300_000] }],
      })
    ).descriptor.digest;
    await writeFile(imagesPath, images());
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await Promise.all([upstream?.stop(), priv?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lock update resolves every image through the remap; a second update leaves the file byte-identical", async () => {
    const first = await runPipeline("lock.ts", ["update", "--images", imagesPath, "--lock", lockPath, ...remap]);
    expect(first.stderr, first.stderr).toContain("3 changed");
    expect(first.code).toBe(0);
    const lock = await readLockFile(lockPath);
    expect(Object.keys(lock.images).sort()).toEqual(["debian-bookworm", "minio", "redis"]);
    expect(lock.images["redis"]).toMatchObject({
      source: "docker.io/library/redis",
      tag: "7.2.7",
      digest: pushed["redis"],
    });
    expect(Object.keys(lock.images["redis"]!.platforms).sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(lock.images["minio"]).toMatchObject({
      source: "quay.io/minio/minio",
      digest: pushed["minio"],
      platforms: {},
    });
    // skopeo, an independent client, agrees with the resolved digest.
    const { stdout } = await exec(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", `docker://${upstream.host}/docker.io/library/debian:bookworm`],
      { encoding: "buffer" },
    );
    expect(sha256Digest(stdout)).toBe(lock.images["debian-bookworm"]!.digest);
    const before = await readFile(lockPath, "utf8");
    const second = await runPipeline("lock.ts", ["update", "--images", imagesPath, "--lock", lockPath, ...remap]);
    expect(second.code).toBe(0);
    expect(await readFile(lockPath, "utf8")).toBe(before);
    const check = await runPipeline("lock.ts", ["check", "--images", imagesPath, "--lock", lockPath, ...remap]);
    expect(check.stderr).toContain("clean");
    expect(check.code).toBe(0);
  });

  it("mirror sync copies every locked image by digest and tag; a re-sync moves zero blob bytes", async () => {
    const sync = await runPipeline("mirror.ts", ["sync", "--lock", lockPath, "--to", priv.host, ...remap, "--json"]);
    expect(sync.code).toBe(0);
    const records = sync.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(3);
    for (const r of records) expect(r).toMatchObject({ status: "copied" });
    expect(records.reduce((n, r) => n + (r["bytesMoved"] as number), 0)).toBeGreaterThan(1_000_000);
    const lock = await readLockFile(lockPath);
    for (const [name, entry] of Object.entries(lock.images)) {
      const ref = mirroredReference(entry, priv.host);
      expect(ref).toBe(`${priv.host}/${entry.source}@${pushed[name]}`);
      expect((await client.headManifest(parseReference(ref)))?.digest).toBe(entry.digest);
      expect((await client.headManifest(withTag(parseReference(ref), entry.tag)))?.digest).toBe(entry.digest);
    }
    // Re-sync with the upstream behind a counting proxy: only manifest HEADs reach it, no blob at all.
    proxy.log.length = 0;
    const viaProxy = ["--remap", `docker.io=${proxy.host}/docker.io`, "--remap", `quay.io=${proxy.host}/quay.io`];
    const again = await runPipeline("mirror.ts", [
      "sync",
      "--lock",
      lockPath,
      "--to",
      priv.host,
      ...viaProxy,
      "--json",
    ]);
    expect(again.code).toBe(0);
    const noop = again.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of noop) expect(r).toMatchObject({ status: "up-to-date", bytesMoved: 0, blobsCopied: 0 });
    expect(proxy.log.filter((l) => l.includes("/blobs/"))).toEqual([]);
    expect(proxy.log.every((l) => l.startsWith("HEAD ") && l.includes("/manifests/"))).toBe(true);
    expect(proxy.log).toHaveLength(3);
    const verify = await runPipeline("mirror.ts", ["verify", "--lock", lockPath, "--to", priv.host]);
    expect(verify.stderr).toContain("verified: all 3 image(s) complete");
    expect(verify.code).toBe(0);
    // A prefix in the private registry: <private>/<prefix>/<source>@<digest>.
    const prefixed = await runPipeline("mirror.ts", [
      "sync",
      "--lock",
      lockPath,
      "--to",
      `${priv.host}/mirror`,
      "--only",
      "minio",
      ...remap,
    ]);
    expect(prefixed.code, prefixed.stderr).toBe(0);
    const minio = lock.images["minio"]!;
    expect(mirroredReference(minio, `${priv.host}/mirror`)).toBe(
      `${priv.host}/mirror/quay.io/minio/minio@${minio.digest}`,
    );
    expect((await client.headManifest(parseReference(mirroredReference(minio, `${priv.host}/mirror`))))?.digest).toBe(
      minio.digest,
    );
    const dry = await runPipeline("mirror.ts", [
      "sync",
      "--lock",
      lockPath,
      "--to",
      priv.host,
      ...remap,
      "--dry-run",
      "--json",
    ]);
    expect(
      dry.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).status),
    ).toEqual(["up-to-date", "up-to-date", "up-to-date"]);
  });

  it("mirror verify exits 2 and names what is missing when a blob disappears", async () => {
    const lock = await readLockFile(lockPath);
    const minio = lock.images["minio"]!;
    const manifest = await client.getManifest(parseReference(mirroredReference(minio, priv.host)));
    const layer = manifest.parsed.blobs[1]!;
    const response = await fetch(`http://${priv.host}/v2/${minio.source}/blobs/${layer.digest}`, { method: "DELETE" });
    expect(response.status).toBe(202);
    const verify = await runPipeline("mirror.ts", ["verify", "--lock", lockPath, "--to", priv.host, "--json"]);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toContain(`blob ${layer.digest} missing`);
    // Repair: a forced recursive copy puts the blob back, and verify passes again.
    const repair = await runPipeline("mirror.ts", [
      "copy",
      `${upstream.host}/quay.io/minio/minio@${minio.digest}`,
      `${priv.host}/quay.io/minio/minio:${minio.tag}`,
      "--force-recursive",
    ]);
    expect(repair.code).toBe(0);
    expect((await runPipeline("mirror.ts", ["verify", "--lock", lockPath, "--to", priv.host])).code).toBe(0);
  });

  it("lock check reports a moved upstream tag (exit 2) and changes nothing", async () => {
    const before = await readFile(lockPath, "utf8");
    const moved = await pushImage(client, `${upstream.host}/quay.io/minio/minio`, {
      layers: [1234],
      tag: "RELEASE.2025-04-22T22-12-26Z",
    });
    const check = await runPipeline("lock.ts", [
      "check",
      "--images",
      imagesPath,
      "--lock",
      lockPath,
      ...remap,
      "--json",
    ]);
    expect(check.code).toBe(2);
    const report = JSON.parse(check.stdout) as { items: { name: string; kind: string; upstream?: string }[] };
    expect(report.items).toEqual([
      expect.objectContaining({ name: "minio", kind: "moved", upstream: moved.descriptor.digest }),
    ]);
    expect(await readFile(lockPath, "utf8")).toBe(before);
    // Updating just that name moves only its pin.
    const update = await runPipeline("lock.ts", [
      "update",
      "minio",
      "--images",
      imagesPath,
      "--lock",
      lockPath,
      ...remap,
    ]);
    expect(update.code).toBe(0);
    const lock = await readLockFile(lockPath);
    expect(lock.images["minio"]!.digest).toBe(moved.descriptor.digest);
    expect(lock.images["redis"]!.digest).toBe(pushed["redis"]);
  });

  it("bad input fails clearly, non-zero, and leaves the lock untouched", async () => {
    const before = await readFile(lockPath, "utf8");
    const bad = join(dir, "bad.yaml");
    const cases: [string, string][] = [
      [images("  - name: x\n    source: redis\n    tag: latest\n"), "'latest' is refused"],
      [images("  - name: n\n    source: redis\n    tag: 16\n"), "quote numeric tags"],
      [images('  - name: y\n    source: Not/A Valid\n    tag: "1"\n'), "invalid image reference"],
      ["version: 1\nimages: [{name: z}\n", "not valid YAML"],
      [images('  - name: gone\n    source: docker.io/library/gone\n    tag: "1.0"\n'), "not found"],
    ];
    for (const [text, message] of cases) {
      await writeFile(bad, text);
      const result = await runPipeline("lock.ts", ["update", "--images", bad, "--lock", lockPath, ...remap]);
      expect(result.code, result.stderr).toBe(1);
      expect(result.stderr).toContain(message);
      expect(await readFile(lockPath, "utf8")).toBe(before);
    }
    const garbage = join(dir, "garbage.lock.json");
    await writeFile(garbage, '{"version": 1, "images": {"redis": {"digest": "sha256:nope"}}}');
    const check = await runPipeline("lock.ts", ["check", "--images", imagesPath, "--lock", garbage]);
    expect(check.code).toBe(1);
    expect(check.stderr).toContain("is malformed");
    const copy = await runPipeline("mirror.ts", ["copy", "UPPER/Case:1", `${priv.host}/x:1`]);
    expect(copy.code).toBe(1);
    expect(copy.stderr).toContain('invalid image reference "UPPER/Case:1"');
    const missing = await runPipeline("lock.ts", ["check", "--images", imagesPath, "--lock", join(dir, "absent.json")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("does not exist");
  });

  it("promote tags a digest with manifest PUTs only and refuses to move a release tag unless forced", async () => {
    const repo = `${priv.host}/e2e3d/reconstruction`;
    const tested = await pushImage(client, repo, { layers: [10_000] });
    const other = await pushImage(client, repo, { layers: [20_000] });
    const promoteProxy = await startFaultProxy(priv.host);
    try {
      const via = `${promoteProxy.host}/e2e3d/reconstruction`;
      const first = await runPipeline("promote.ts", [
        "--from",
        `${via}@${tested.descriptor.digest}`,
        "--tags",
        "v1.2.3,1.2",
        "--json",
      ]);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout).tags.map((t: { action: string }) => t.action)).toEqual(["created", "created"]);
      expect(promoteProxy.log.filter((l) => l.includes("/blobs/"))).toEqual([]);
      expect(promoteProxy.log.filter((l) => l.startsWith("PUT "))).toHaveLength(2);
      const refused = await runPipeline("promote.ts", [
        "--from",
        `${via}@${other.descriptor.digest}`,
        "--tags",
        "v1.2.3",
      ]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain("refusing to move it");
      expect((await client.headManifest(parseReference(`${repo}:v1.2.3`)))?.digest).toBe(tested.descriptor.digest);
      const again = await runPipeline("promote.ts", [
        "--from",
        `${via}@${tested.descriptor.digest}`,
        "--tags",
        "v1.2.3",
      ]);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain("unchanged");
      const forced = await runPipeline("promote.ts", [
        "--from",
        `${via}@${other.descriptor.digest}`,
        "--tags",
        "1.2",
        "--force",
      ]);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toContain("WARNING: moving release tag");
      expect((await client.headManifest(parseReference(`${repo}:1.2`)))?.digest).toBe(other.descriptor.digest);
    } finally {
      await promoteProxy.stop();
    }
  });

  it("SIGKILL in the middle of a copy leaves no tag on anything incomplete; a rerun completes with identical digests", async () => {
    const big = await pushIndex(client, `${upstream.host}/docker.io/library/killme`, {
      tag: "1",
      platforms: [
        { os: "linux", architecture: "amd64", layers: [8_000_000, 5000] },
        { os: "linux", architecture: "arm64", layers: [8_000_000] },
        { os: "linux", architecture: "s390x", layers: [6_000_000] },
      ],
    });
    // Freeze the copy at a known point: the s390x config blob never answers, everything else flows.
    const s390x = await client.getManifest(
      parseReference(`${upstream.host}/docker.io/library/killme@${big.children[2]!.digest}`),
    );
    const stalled = s390x.parsed.blobs[0]!.digest;
    const s390xLayer = s390x.parsed.blobs[1]!.digest;
    proxy.setRule((req) => (req.method === "GET" && (req.url ?? "").includes(stalled) ? { kind: "stall" } : undefined));
    const target = `${priv.host}/docker.io/library/killme:1`;
    const targetRef = parseReference(target);
    const child = spawnPipeline("mirror.ts", ["copy", `${proxy.host}/docker.io/library/killme:1`, target]);
    const exited = new Promise((r) => child.once("exit", r));
    let childOutput = "";
    for (const stream of [child.stdout, child.stderr]) stream?.on("data", (d: Buffer) => (childOutput += d.toString()));
    // Kill at a known state, not after a guessed pause: the stalled config blob has been asked for, and everything
    // that does not depend on it (the amd64 and arm64 images, the s390x layer) is complete in the target.
    const settled = async () =>
      proxy.log.some((l) => l.startsWith("GET") && l.includes(stalled)) &&
      (await client.headManifest({ ...targetRef, tag: undefined, digest: big.children[0]!.digest })) !== undefined &&
      (await client.headManifest({ ...targetRef, tag: undefined, digest: big.children[1]!.digest })) !== undefined &&
      (await client.headBlob(targetRef, s390xLayer)) !== undefined;
    const deadline = Date.now() + 120_000;
    while (!(await settled())) {
      if (child.exitCode !== null)
        throw new Error(`the copy exited (${child.exitCode}) before it reached the stall:\n${childOutput}`);
      if (Date.now() > deadline) throw new Error("the copy did not reach the stalled blob within 120 s");
      await sleep(50);
    }
    child.kill("SIGKILL");
    await exited;
    proxy.setRule(undefined);
    expect(await client.headManifest(targetRef)).toBeUndefined();
    expect(
      await client.headManifest({ ...targetRef, tag: undefined, digest: big.children[2]!.digest }),
    ).toBeUndefined();
    const rerun = await runPipeline("mirror.ts", [
      "copy",
      `${upstream.host}/docker.io/library/killme:1`,
      target,
      "--json",
    ]);
    expect(rerun.code, rerun.stderr).toBe(0);
    const stats = JSON.parse(rerun.stdout) as Record<string, unknown>;
    // The rerun finishes only what the killed copy left: the s390x config, its manifest and the index.
    expect(stats).toMatchObject({
      digest: big.descriptor.digest,
      manifestsSkipped: 2,
      manifestsCopied: 2,
      blobsSkipped: 1,
      blobsCopied: 1,
    });
    const { stdout } = await exec("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${target}`], {
      encoding: "buffer",
    });
    expect(sha256Digest(stdout)).toBe(big.descriptor.digest);
  });
});
