// Build benchmark: in one run, per round and per engine (Docker and Dagger side by side, rounds interleaved so both
// see the same machine noise), (1) a cold build of every image (fresh registry, engine layer cache emptied),
// (2) an engine rebuild of the unchanged inputs (the engine's layer cache: every step a cache hit), (3) a no-change
// run of the pipeline (target: under 5 s for all images end to end: nothing is rebuilt, the input digests are found
// by HEAD, no engine is contacted), (4) a source-only change to one image (target: under 20% of its cold build).
// Prints medians over the rounds and the ratios (each engine against its own cold build, Dagger against Docker);
// writes the numbers as JSON.
//
// Cold means: Docker `build --no-cache` (the base image stays pulled); Dagger `engine.localCache.prune` before the
// build (layers, cache mounts and the pulled base are all dropped, so the base is pulled again from the loopback
// registry). Dagger's `noCache` on a host directory alone only re-reads the files and would measure a warm build.
//
//   npx tsx tools/bench/build/bench.ts [--fixtures] [--images airflow,reconstruction] [--probe-image NAME]
//                                      [--engines docker,dagger] [--rounds 3] [--report reports/bench-build.json]
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
  type EngineName,
  FIRST_PARTY_IMAGES,
  type ImageDefinition,
  ImageRegistry,
  listContextFiles,
  parseEngineChoice,
  prepareDaggerConnection,
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
  .option("--engines <names>", "engines to compare (docker, dagger); default both when a Dagger engine is reachable")
  .option("--rounds <n>", "rounds (medians are over these)", "3")
  .option("--check-reproducible", "in round 1, build every image cold a second time and compare digests")
  .option("--report <file>", "JSON output", "reports/bench-build.json")
  .parse();
const opts = program.opts<{
  fixtures?: boolean;
  images?: string;
  probeImage?: string;
  engines?: string;
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
const engines = chooseEngines(opts.engines);

function chooseEngines(requested: string | undefined): EngineName[] {
  if (requested) return requested.split(",").map((name) => parseEngineChoice(name, "--engines") as EngineName);
  try {
    prepareDaggerConnection();
    return ["docker", "dagger"];
  } catch (error) {
    process.stdout.write(`Dagger column left out: ${(error as Error).message}\n`);
    return ["docker"];
  }
}

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
  engine: EngineName;
  cold: Record<string, number>;
  coldTotal: number;
  /** The engine rebuilt the unchanged inputs with its layer cache warm (the input-digest skip bypassed). */
  engineRebuildTotal: number;
  noChangeTotal: number;
  noChangeCacheHits: number;
  sourceChange: number;
  /** Round 1 with --check-reproducible: image → whether a second cold build of the same inputs gave the same digest. */
  reproducible?: Record<string, boolean>;
}

async function round(n: number, engineName: EngineName): Promise<Round> {
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
        engine: { name: engineName, reason: "benchmark" },
        createEngine: () => createEngine(engineName, { dockerClient: docker }),
        registryClient: registry,
        git: await readGitInfo(log, root, {}),
        log,
        noEngineCache,
        rebuild,
        buildSecrets: buildSecretsFrom(),
      });
      if (report.status !== "passed")
        throw new Error(`round ${n} (${engineName}): build failed: ${JSON.stringify(report.failures, null, 2)}`);
      return { report, seconds: (performance.now() - started) / 1000 };
    };
    log.step(`round ${n} (${engineName}): cold build of ${images.map((i) => i.name).join(", ")}`);
    const cold = await run(true);
    let reproducible: Record<string, boolean> | undefined;
    if (n === 1 && opts.checkReproducible) {
      log.step("round 1: second cold build of the same inputs (reproducibility)");
      const again = await run(true, true);
      reproducible = Object.fromEntries(again.report.images.map((i) => [i.name, i.reproducible.sameDigest === true]));
    }
    log.step(`round ${n} (${engineName}): engine rebuild of the unchanged inputs (layer cache)`);
    const engineRebuild = await run(false, true);
    log.step(`round ${n} (${engineName}): no-change run (input-digest skip)`);
    const same = await run(false);
    log.step(`round ${n} (${engineName}): source-only change to ${probe.name} (${probe.sourceProbe})`);
    await appendFile(join(root, probe.sourceProbe!), `\n# bench round ${n}\n`);
    git(root, "commit", "-q", "-am", `bench change ${n}`);
    const changed = await run(false);
    const changedImage = changed.report.images.find((i) => i.name === probe.name)!;
    return {
      engine: engineName,
      cold: Object.fromEntries(cold.report.images.map((i) => [i.name, i.buildSeconds])),
      coldTotal: cold.seconds,
      engineRebuildTotal: engineRebuild.seconds,
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
for (let n = 1; n <= rounds; n++) for (const engine of engines) results.push(await round(n, engine));

function summarise(engine: EngineName) {
  const mine = results.filter((r) => r.engine === engine);
  const coldProbe = median(mine.map((r) => r.cold[probe.name]!));
  const coldTotal = median(mine.map((r) => r.coldTotal));
  const sourceChange = median(mine.map((r) => r.sourceChange));
  const noChange = median(mine.map((r) => r.noChangeTotal));
  const engineRebuild = median(mine.map((r) => r.engineRebuildTotal));
  return {
    medians: {
      cold: Object.fromEntries(images.map((i) => [i.name, median(mine.map((r) => r.cold[i.name]!))])),
      coldTotal,
      engineRebuildTotal: engineRebuild,
      noChangeTotal: noChange,
      sourceChange,
    },
    ratios: {
      engineRebuildToColdTotal: engineRebuild / coldTotal,
      sourceChangeToCold: sourceChange / coldProbe,
      noChangeToColdTotal: noChange / coldTotal,
    },
    targets: { noChangeUnder5s: noChange < 5, sourceChangeUnder20Percent: sourceChange / coldProbe < 0.2 },
    allCacheHitsOnNoChange: mine.every((r) => r.noChangeCacheHits === images.length),
  };
}
const byEngine = Object.fromEntries(engines.map((engine) => [engine, summarise(engine)])) as Record<
  EngineName,
  ReturnType<typeof summarise>
>;
const summary = { rounds, images: images.map((i) => i.name), probe: probe.name, engines, byEngine, raw: results };

const fmt = (s: number) => `${s.toFixed(2)} s`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
type Scenario = {
  label: string;
  value: (e: ReturnType<typeof summarise>) => number;
  own?: (e: ReturnType<typeof summarise>) => string;
};
const scenarios: Scenario[] = [
  ...images.map((i) => ({
    label: `cold build: ${i.name}`,
    value: (e: ReturnType<typeof summarise>) => e.medians.cold[i.name]!,
  })),
  { label: "cold build: all (end to end)", value: (e) => e.medians.coldTotal },
  {
    label: "engine rebuild, no change: all (layer cache)",
    value: (e) => e.medians.engineRebuildTotal,
    own: (e) => `${pct(e.ratios.engineRebuildToColdTotal)} of cold`,
  },
  {
    label: "no-change run: all (input-digest skip)",
    value: (e) => e.medians.noChangeTotal,
    own: (e) => `${pct(e.ratios.noChangeToColdTotal)} of cold; < 5 s: ${e.targets.noChangeUnder5s ? "met" : "MISSED"}`,
  },
  {
    label: `source-only change: ${probe.name}`,
    value: (e) => e.medians.sourceChange,
    own: (e) =>
      `${pct(e.ratios.sourceChangeToCold)} of cold; < 20%: ${e.targets.sourceChangeUnder20Percent ? "met" : "MISSED"}`,
  },
];
const header = ["scenario", ...engines.flatMap((e) => [e, `${e}: own ratio`])];
if (engines.includes("dagger") && engines.includes("docker")) header.push("dagger / docker");
const rows = scenarios.map((s) => {
  const row = [s.label, ...engines.flatMap((e) => [fmt(s.value(byEngine[e])), s.own?.(byEngine[e]) ?? ""])];
  if (header.at(-1) === "dagger / docker")
    row.push(`${(s.value(byEngine.dagger) / s.value(byEngine.docker)).toFixed(2)}x`);
  return row;
});
process.stdout.write(
  `\nbuild benchmark (${opts.fixtures ? "fixtures" : "first-party images"}, median of ${rounds} round(s), engines: ${engines.join(", ")})\n`,
);
process.stdout.write(`${renderTable({ header, rows })}\n`);
for (const r of results.filter((x) => x.reproducible)) {
  for (const [name, same] of Object.entries(r.reproducible!)) {
    process.stdout.write(
      `reproducible (${r.engine}, two cold builds, same inputs): ${name}: ${same ? "same digest" : "different digests"}\n`,
    );
  }
}
const out = resolve(opts.report);
await mkdir(dirname(out), { recursive: true });
await writeFile(out, `${JSON.stringify(summary, null, 2)}\n`);
process.stdout.write(`written: ${out}\n`);
