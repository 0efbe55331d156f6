// Build benchmark: in one run, per round, (1) a cold build of every image (fresh registry, engine layer cache
// ignored), (2) a no-change rebuild (target: under 5 s for all images end to end: nothing is rebuilt, the input
// digests are found by HEAD), (3) a source-only change to one image (target: under 20% of its cold build).
// Prints medians over the rounds and the ratios; writes the numbers as JSON.
//
//   npx tsx tools/bench/build/bench.ts [--fixtures] [--images airflow,reconstruction] [--probe-image NAME]
//                                      [--rounds 3] [--report reports/bench-build.json]
//
// Hermetic: every round gets a throwaway registry (Debian's docker-registry on loopback) holding the lab's
// base under its origin path, and a temporary git copy of exactly the files the images' contexts send, so neither
// the repository nor the lab's registries are touched.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  buildSecretsFrom,
  createEngine,
  DEFAULT_DOCKER_CLIENT,
  FIRST_PARTY_IMAGES,
  type ImageDefinition,
  ImageRegistry,
  listContextFiles,
  readGitInfo,
  renderTable,
  runBuildPipeline,
  selectImages,
  TerminalLogger,
} from "@e2e3d/pipeline";
import { Command } from "commander";
import { seedBaseAndLock } from "../../../packages/pipeline/src/testing/lab-fixture.js";
import { startRegistry } from "../../../packages/pipeline/src/testing/registry-server.js";

const REPO = resolve(import.meta.dirname, "../../..");
const FIXTURES = join(REPO, "packages/pipeline/test/fixtures/images");
const FIXTURE_TABLE: ImageDefinition[] = [
  {
    name: "service",
    dockerfile: "images/service/Dockerfile",
    context: "images/service",
    include: [],
    base: "debian-bookworm",
    sourceProbe: "images/service/src/app.txt",
  },
  {
    name: "app",
    dockerfile: "images/app/Dockerfile",
    context: "images/app",
    include: ["Dockerfile", "src", ".dockerignore"],
    base: "debian-bookworm",
    sourceProbe: "images/app/src/data.txt",
  },
];

const program = new Command("bench-build")
  .option("--fixtures", "benchmark the small fixture images instead of the first-party ones")
  .option("--images <names>", "comma-separated image names")
  .option("--probe-image <name>", "the image whose source is changed (default: reconstruction, else the first)")
  .option("--rounds <n>", "rounds (medians are over these)", "3")
  .option("--check-reproducible", "in round 1, build every image cold a second time and compare digests")
  .option("--report <file>", "JSON output", "reports/bench-build.json")
  .parse();
const opts = program.opts<{
  fixtures?: boolean;
  images?: string;
  probeImage?: string;
  rounds: string;
  report: string;
  checkReproducible?: boolean;
}>();

const docker = process.env["E2E3D_DOCKER_CLIENT"] || DEFAULT_DOCKER_CLIENT;
const log = new TerminalLogger({ verbose: false });
const table = opts.fixtures ? FIXTURE_TABLE : [...FIRST_PARTY_IMAGES].filter((i) => !i.optionalReason);
const images = selectImages(table, opts.images?.split(","));
const probe = images.find((i) => i.name === (opts.probeImage ?? "reconstruction")) ?? images[0]!;
if (!probe.sourceProbe) throw new Error(`image ${probe.name} has no sourceProbe in its table entry`);
const rounds = Number(opts.rounds);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    stdio: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "bench",
      GIT_AUTHOR_EMAIL: "b@e",
      GIT_COMMITTER_NAME: "bench",
      GIT_COMMITTER_EMAIL: "b@e",
    },
  });

/** A git repository holding exactly what the images' contexts send (plus Dockerfiles and ignore files). */
async function workspace(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "e2e3d-bench-ws-"));
  const source = opts.fixtures ? dirname(FIXTURES) : REPO;
  for (const image of images) {
    const contextDir = resolve(source, image.context);
    const dockerfile = resolve(source, image.dockerfile);
    const files = await listContextFiles({ dir: contextDir, dockerfile, include: image.include });
    const extra = [dockerfile, `${dockerfile}.dockerignore`, join(contextDir, ".dockerignore")].filter(existsSync);
    for (const abs of [...files.map((f) => join(contextDir, f.path)), ...extra]) {
      const target = join(root, abs.slice(source.length + 1));
      await mkdir(dirname(target), { recursive: true });
      await copyFile(abs, target);
    }
  }
  git(root, "init", "-q", "-b", "bench");
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "bench");
  return root;
}

interface Round {
  cold: Record<string, number>;
  coldTotal: number;
  noChangeTotal: number;
  noChangeCacheHits: number;
  sourceChange: number;
  /** Round 1 with --check-reproducible: image → whether a second cold build of the same inputs gave the same digest. */
  reproducible?: Record<string, boolean>;
}

async function round(n: number): Promise<Round> {
  const registryServer = await startRegistry();
  const registry = new ImageRegistry();
  const root = await workspace();
  try {
    const { lockFile } = await seedBaseAndLock(registryServer.address);
    const run = async (noEngineCache: boolean, rebuild = false) => {
      const started = performance.now();
      const report = await runBuildPipeline({
        root,
        images,
        registry: registryServer.address,
        lockFile,
        lintDirs: [],
        engine: { name: "docker", reason: "benchmark" },
        createEngine: () => createEngine("docker", { dockerClient: docker }),
        registryClient: registry,
        git: await readGitInfo(log, root, {}),
        log,
        noEngineCache,
        rebuild,
        buildSecrets: buildSecretsFrom(),
      });
      if (report.status !== "passed")
        throw new Error(`round ${n}: build failed: ${JSON.stringify(report.failures, null, 2)}`);
      return { report, seconds: (performance.now() - started) / 1000 };
    };
    log.step(`round ${n}: cold build of ${images.map((i) => i.name).join(", ")}`);
    const cold = await run(true);
    let reproducible: Record<string, boolean> | undefined;
    if (n === 1 && opts.checkReproducible) {
      log.step("round 1: second cold build of the same inputs (reproducibility)");
      const again = await run(true, true);
      reproducible = Object.fromEntries(again.report.images.map((i) => [i.name, i.reproducible.sameDigest === true]));
    }
    log.step(`round ${n}: no-change rebuild`);
    const same = await run(false);
    log.step(`round ${n}: source-only change to ${probe.name} (${probe.sourceProbe})`);
    await appendFile(join(root, probe.sourceProbe!), `\n# bench round ${n}\n`);
    git(root, "commit", "-q", "-am", `bench change ${n}`);
    const changed = await run(false);
    const changedImage = changed.report.images.find((i) => i.name === probe.name)!;
    return {
      cold: Object.fromEntries(cold.report.images.map((i) => [i.name, i.buildSeconds])),
      coldTotal: cold.seconds,
      noChangeTotal: same.seconds,
      noChangeCacheHits: same.report.images.filter((i) => i.cacheHit).length,
      sourceChange: changedImage.buildSeconds,
      ...(reproducible ? { reproducible } : {}),
    };
  } finally {
    await registry.close();
    await registryServer.stop();
    await rm(root, { recursive: true, force: true });
  }
}

const results: Round[] = [];
for (let n = 1; n <= rounds; n++) results.push(await round(n));

const coldProbe = median(results.map((r) => r.cold[probe.name]!));
const sourceChange = median(results.map((r) => r.sourceChange));
const noChange = median(results.map((r) => r.noChangeTotal));
const summary = {
  rounds,
  images: images.map((i) => i.name),
  probe: probe.name,
  medians: {
    cold: Object.fromEntries(images.map((i) => [i.name, median(results.map((r) => r.cold[i.name]!))])),
    coldTotal: median(results.map((r) => r.coldTotal)),
    noChangeTotal: noChange,
    sourceChange,
  },
  ratios: {
    sourceChangeToCold: sourceChange / coldProbe,
    noChangeToColdTotal: noChange / median(results.map((r) => r.coldTotal)),
  },
  targets: { noChangeUnder5s: noChange < 5, sourceChangeUnder20Percent: sourceChange / coldProbe < 0.2 },
  allCacheHitsOnNoChange: results.every((r) => r.noChangeCacheHits === images.length),
  raw: results,
};
const fmt = (s: number) => `${s.toFixed(2)} s`;
const rows = [
  ...images.map((i) => [`cold build: ${i.name}`, fmt(summary.medians.cold[i.name]!), "", ""]),
  ["cold build: all (end to end)", fmt(summary.medians.coldTotal), "", ""],
  [
    "no-change rebuild: all (end to end)",
    fmt(noChange),
    `${(summary.ratios.noChangeToColdTotal * 100).toFixed(1)}% of cold`,
    `< 5 s: ${summary.targets.noChangeUnder5s ? "met" : "MISSED"}`,
  ],
  [
    `source-only change: ${probe.name}`,
    fmt(sourceChange),
    `${(summary.ratios.sourceChangeToCold * 100).toFixed(1)}% of cold`,
    `< 20%: ${summary.targets.sourceChangeUnder20Percent ? "met" : "MISSED"}`,
  ],
];
process.stdout.write(
  `\nbuild benchmark (${opts.fixtures ? "fixtures" : "first-party images"}, median of ${rounds} round(s), docker engine)\n`,
);
process.stdout.write(`${renderTable({ header: ["scenario", "median", "ratio", "target"], rows })}\n`);
const reproducible = results[0]?.reproducible;
if (reproducible) {
  for (const [name, same] of Object.entries(reproducible)) {
    process.stdout.write(
      `reproducible (two cold builds, same inputs): ${name}: ${same ? "same digest" : "different digests"}\n`,
    );
  }
}
const out = resolve(opts.report);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`written: ${out}\n`);
