// `up`: every step in order, each idempotent; lab.json records what is there and whether each step did work.
import { mkdir } from "node:fs/promises";
import { ensureBaseImage } from "./base-image.js";
import { ensureCompose } from "./compose.js";
import { formatAddress, type LabConfig } from "./config.js";
import { ensureDaggerEngine } from "./dagger/index.js";
import { ensureEngine } from "./engine.js";
import { LabError } from "./errors.js";
import { withUpLock } from "./lock.js";
import { type Log, Progress } from "./progress.js";
import { ensureRegistries } from "./registries.js";
import { ensureStandInImages } from "./standins.js";
import { GRAFANA_NOTE, type LabState, readLabStateIfAny, writeLabState } from "./state.js";

export async function labUp(config: LabConfig, write?: Log): Promise<LabState> {
  const started = Date.now();
  await mkdir(config.stateDir, { recursive: true }).catch((error: unknown) => {
    throw new LabError(`cannot create the lab state dir ${config.stateDir}`, {
      cause: error,
      hint: "set E2E3D_LAB_HOME to a directory you can write",
    });
  });
  const progress = new Progress(6, write);
  return withUpLock(config.stateDir, progress.log, () => bringUp(config, progress, started));
}

async function bringUp(config: LabConfig, progress: Progress, started: number): Promise<LabState> {
  const previous = await readLabStateIfAny(config.stateDir);
  const log = progress.log;
  const upstream = formatAddress(config.upstream);
  const priv = formatAddress(config.private);

  const engine = await progress.step("engine", () => ensureEngine(config.stateDir, log));
  // BuildKit builds through Debian's client need this in the environment of everything the lab runs.
  process.env["DOCKER_BUILDKIT"] = "1";
  const compose = await progress.step("compose", () => ensureCompose(engine.dockerClient, config.stateDir, log));
  const registries = await progress.step("registries", () =>
    ensureRegistries(config.stateDir, { upstream: config.upstream, private: config.private }, log),
  );
  const baseImage = await progress.step("base image", () =>
    ensureBaseImage(engine.dockerClient, config.stateDir, upstream, log),
  );
  const standIns = await progress.step("stand-in images", async () => {
    const outcome = await ensureStandInImages(
      { docker: engine.dockerClient, upstream, baseImage: baseImage.reference, stateDir: config.stateDir, log },
      log,
    );
    const before = JSON.stringify(previous?.standIns.images ?? []);
    return { ...outcome, changed: outcome.value.status === "ready" && before !== JSON.stringify(outcome.value.images) };
  });
  const dagger = await progress.step("dagger engine", () =>
    ensureDaggerEngine(
      {
        docker: engine.dockerClient,
        baseImage: baseImage.reference,
        registries: [upstream, priv],
        stateDir: config.stateDir,
      },
      log,
    ),
  );

  const state: LabState = {
    schemaVersion: 1,
    stateDir: config.stateDir,
    updatedAt: new Date().toISOString(),
    upstream,
    private: priv,
    engine,
    compose,
    registries,
    baseImage,
    standIns,
    ...(dagger ? { dagger } : {}),
    grafana: GRAFANA_NOTE,
    lastUp: { at: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, steps: progress.steps },
  };
  const path = await writeLabState(state);
  log(`grafana: ${GRAFANA_NOTE}`);
  const changed = progress.steps.filter((step) => step.changed).map((step) => step.name);
  log(
    `lab ready in ${state.lastUp.seconds.toFixed(1)}s: ${changed.length ? `did work in ${changed.join(", ")}` : "nothing to do, everything was in place"}; state in ${path}`,
  );
  return state;
}
