// Benchmark: copy the lab's stand-in set plus a synthetic image (~500 MiB by default) between two local registries
// with @e2e3d/oci and with `skopeo copy --all`, cold (into a fresh registry) and no-op (again into the same one),
// and a plain GET/PUT loop over the same blobs as the raw loopback ceiling. Prints medians and ratios.
//
//   npx tsx tools/bench/oci/bench.ts [--runs 3] [--size-mib 500] [--lab-upstream 127.0.0.1:5101] [--no-lab] [--json FILE]
//
// Every run starts its own registries (Debian's docker-registry on free loopback ports), so tools never see each
// other's blobs (skopeo's blob-info cache would otherwise mount instead of copy). Targets (issue 3): cold copy no
// slower than skopeo; no-op under one second with zero blob GETs; at least 70% of the raw loopback throughput.
import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { request } from "undici";
import {
  copyImage,
  type Descriptor,
  formatBytes,
  MediaType,
  parseReference,
  RegistryClient,
  readImagesFile,
  withDigest,
  withTag,
} from "../../../packages/oci/src/index.js";
import { startRegistry, type TestRegistry } from "../../../packages/oci/test/support/registry.js";

const exec = promisify(execFile);
const REPO_ROOT = join(import.meta.dirname, "../../..");
const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    "size-mib": { type: "string", default: "500" },
    "lab-upstream": { type: "string", default: process.env["E2E3D_UPSTREAM_REGISTRY"] ?? "127.0.0.1:5101" },
    "no-lab": { type: "boolean", default: false },
    json: { type: "string" },
  },
});
const runs = Number(args.runs);
const sizeMiB = Number(args["size-mib"]);
const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const seconds = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
};
const quiet = () => new RegistryClient({ credentials: async () => undefined });

/** Deterministic incompressible bytes (AES-CTR keystream): fast to make, no disk, same every run. */
function syntheticLayer(index: number, size: number): Buffer {
  const key = createHash("sha256").update(`e2e3d-bench-${index}`).digest().subarray(0, 16);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

async function seedSynthetic(client: RegistryClient, registry: string): Promise<{ ref: string; blobs: Descriptor[] }> {
  const repo = parseReference(`${registry}/bench/synthetic`);
  const layerSize = 100 * 1024 * 1024;
  const layers: Descriptor[] = [];
  for (let i = 0, left = sizeMiB * 1024 * 1024; left > 0; i++, left -= layerSize) {
    const bytes = syntheticLayer(i, Math.min(layerSize, left));
    const descriptor = {
      mediaType: MediaType.ociLayerGzip,
      digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}`,
      size: bytes.length,
    };
    await client.uploadBlob(repo, descriptor, bytes);
    layers.push(descriptor);
  }
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
    }),
  );
  const config = {
    mediaType: MediaType.ociConfig,
    digest: `sha256:${createHash("sha256").update(configBytes).digest("hex")}`,
    size: configBytes.length,
  };
  await client.uploadBlob(repo, config, configBytes);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers }));
  await client.putManifest(withTag(repo, "1"), manifest, MediaType.ociManifest);
  return { ref: `bench/synthetic:1`, blobs: [config, ...layers] };
}

/** Copies the lab's stand-in set into the bench source registry (so every tool reads the same local copy). */
async function seedLabSet(client: RegistryClient, registry: string): Promise<string[]> {
  if (args["no-lab"]) return [];
  const upstream = args["lab-upstream"]!;
  try {
    await client.ping(upstream);
  } catch {
    log(
      `lab upstream ${upstream} does not answer: the stand-in set is skipped (run \`npx tsx tools/lab/src/cli.ts up\` to include it)`,
    );
    return [];
  }
  const images = await readImagesFile(join(REPO_ROOT, "docker/lab/images.yaml"));
  const refs: string[] = [];
  for (const image of images.images) {
    const source = parseReference(image.source);
    const path = `${source.registry}/${source.repository}:${image.tag}`;
    try {
      await copyImage(client, `${upstream}/${path}`, `${registry}/${path}`);
      refs.push(path);
    } catch (err) {
      log(`stand-in ${image.name} not copied from the lab (${(err as Error).message}); left out`);
    }
  }
  return refs;
}

/** The raw ceiling: GET each blob into memory and PUT it in one request, no hashing or chunking of ours. */
async function rawLoop(src: string, dst: string, blobs: Descriptor[]): Promise<number> {
  return seconds(async () => {
    for (const blob of blobs) {
      const got = await request(`http://${src}/v2/bench/synthetic/blobs/${blob.digest}`);
      const body = Buffer.from(await got.body.arrayBuffer());
      const start = await request(`http://${dst}/v2/raw/synthetic/blobs/uploads/`, { method: "POST" });
      await start.body.dump();
      const location = new URL(String(start.headers["location"]), `http://${dst}`);
      location.searchParams.set("digest", blob.digest);
      const put = await request(location, {
        method: "PUT",
        body,
        headers: { "content-type": "application/octet-stream" },
      });
      await put.body.dump();
      if (put.statusCode !== 201) throw new Error(`raw PUT answered ${put.statusCode}`);
    }
  });
}

async function oursCopy(
  src: string,
  dst: string,
  refs: string[],
): Promise<{ seconds: number; blobGets: number; bytes: number }> {
  const client = quiet();
  let bytes = 0;
  try {
    const s = await seconds(async () => {
      for (const ref of refs) bytes += (await copyImage(client, `${src}/${ref}`, `${dst}/${ref}`)).bytesMoved;
    });
    return { seconds: s, blobGets: client.metrics.requests["GET blob"] ?? 0, bytes };
  } finally {
    await client.close();
  }
}

async function skopeoCopy(src: string, dst: string, refs: string[]): Promise<number> {
  return seconds(async () => {
    for (const ref of refs) {
      await exec("skopeo", [
        "copy",
        "--all",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${src}/${ref}`,
        `docker://${dst}/${ref}`,
      ]);
    }
  });
}

async function main(): Promise<void> {
  const registries: TestRegistry[] = [];
  const fresh = async () => {
    const r = await startRegistry();
    registries.push(r);
    return r;
  };
  try {
    const src = await fresh();
    const seeder = quiet();
    log(`seeding a ${sizeMiB} MiB synthetic image and the lab stand-in set into ${src.host}`);
    const synthetic = await seedSynthetic(seeder, src.host);
    const labRefs = await seedLabSet(seeder, src.host);
    await seeder.close();
    const refs = [...labRefs, synthetic.ref];
    const syntheticBytes = synthetic.blobs.reduce((n, b) => n + b.size, 0);
    log(`set: ${labRefs.length} stand-in image(s) + synthetic (${formatBytes(syntheticBytes)})`);
    const results = {
      oursCold: [] as number[],
      oursNoop: [] as number[],
      noopBlobGets: [] as number[],
      skopeoCold: [] as number[],
      skopeoNoop: [] as number[],
      oursSynthetic: [] as number[],
      raw: [] as number[],
    };
    for (let run = 1; run <= runs; run++) {
      const rawTarget = await fresh();
      results.raw.push(await rawLoop(src.host, rawTarget.host, synthetic.blobs));
      await rawTarget.stop();
      const oursTarget = await fresh();
      const cold = await oursCopy(src.host, oursTarget.host, refs);
      results.oursCold.push(cold.seconds);
      const noop = await oursCopy(src.host, oursTarget.host, refs);
      results.oursNoop.push(noop.seconds);
      results.noopBlobGets.push(noop.blobGets);
      await oursTarget.stop();
      const synthTarget = await fresh();
      results.oursSynthetic.push((await oursCopy(src.host, synthTarget.host, [synthetic.ref])).seconds);
      await synthTarget.stop();
      const skopeoTarget = await fresh();
      results.skopeoCold.push(await skopeoCopy(src.host, skopeoTarget.host, refs));
      results.skopeoNoop.push(await skopeoCopy(src.host, skopeoTarget.host, refs));
      await skopeoTarget.stop();
      log(
        `run ${run}/${runs}: ours cold ${cold.seconds.toFixed(2)}s no-op ${noop.seconds.toFixed(3)}s (${noop.blobGets} blob GETs) | skopeo cold ${results.skopeoCold.at(-1)!.toFixed(2)}s no-op ${results.skopeoNoop.at(-1)!.toFixed(2)}s | raw ${results.raw.at(-1)!.toFixed(2)}s`,
      );
    }
    const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)])) as Record<
      keyof typeof results,
      number
    >;
    const mibps = (s: number) => syntheticBytes / 1024 / 1024 / s;
    const rows: [string, string, string, string][] = [
      ["metric (median of " + runs + ")", "e2e3d-oci", "skopeo", "skopeo/ours"],
      [
        "cold copy, whole set (s)",
        m.oursCold.toFixed(2),
        m.skopeoCold.toFixed(2),
        (m.skopeoCold / m.oursCold).toFixed(2),
      ],
      [
        "no-op copy, whole set (s)",
        m.oursNoop.toFixed(3),
        m.skopeoNoop.toFixed(3),
        (m.skopeoNoop / m.oursNoop).toFixed(2),
      ],
      ["no-op blob GETs", String(m.noopBlobGets), "-", "-"],
      [
        "synthetic cold throughput (MiB/s)",
        mibps(m.oursSynthetic).toFixed(0),
        `raw GET/PUT ${mibps(m.raw).toFixed(0)}`,
        `ours/raw ${(m.raw / m.oursSynthetic).toFixed(2)}`,
      ],
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    for (const row of rows) process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c]!)).join("  ")}\n`);
    const targets = [
      [`cold copy no slower than skopeo`, m.oursCold <= m.skopeoCold],
      [`no-op under 1 s with zero blob GETs`, m.oursNoop < 1 && m.noopBlobGets === 0],
      [`synthetic copy at least 70% of raw loopback throughput`, m.raw / m.oursSynthetic >= 0.7],
    ] as const;
    for (const [what, ok] of targets) process.stdout.write(`${ok ? "PASS" : "MISS"}  ${what}\n`);
    if (args.json)
      await writeFile(args.json, `${JSON.stringify({ sizeMiB, runs, set: refs, results, medians: m }, null, 2)}\n`);
  } finally {
    for (const r of registries) await r.stop().catch(() => undefined);
  }
}

await main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
void withDigest;
