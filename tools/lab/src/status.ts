// `status`: lab.json plus whether each part answers right now.
import { composeVersionFor } from "./compose.js";
import { engineContainerRunning } from "./dagger/index.js";
import { engineVersion, labDockerdPid } from "./engine.js";
import { labRegistryPid, registryAnswers } from "./registries.js";
import { manifestDigest } from "./registry-http.js";
import type { LabState } from "./state.js";

export interface Liveness {
  engine: { up: boolean; version?: string; dockerdPidStartedByLab?: number };
  compose: { up: boolean; version?: string };
  upstream: { up: boolean; pid?: number };
  private: { up: boolean; pid?: number };
  baseImage: { present: boolean };
  standIns: { name: string; present: boolean }[];
  /** Whether the lab's Dagger engine container runs (absent when the lab has no Dagger engine). */
  dagger?: { up: boolean };
}

export interface LabStatus extends LabState {
  live: Liveness;
  ready: boolean;
}

/** Splits `host:port/repo/path@sha256:...` (or `:tag`) into the registry URL and repository. */
export function splitReference(reference: string): { registryUrl: string; repository: string } | undefined {
  const match = /^([^/]+)\/(.+?)(?::[\w][\w.-]*)?(?:@sha256:[0-9a-f]{64})?$/.exec(reference);
  return match ? { registryUrl: `http://${match[1]}`, repository: match[2]! } : undefined;
}

async function present(reference: string, digest: string): Promise<boolean> {
  const parts = splitReference(reference);
  return parts ? (await manifestDigest(parts.registryUrl, parts.repository, digest)) === digest : false;
}

export async function labStatus(state: LabState): Promise<LabStatus> {
  const [engine, compose, upstreamUp, privateUp] = await Promise.all([
    engineVersion(state.engine.dockerClient),
    composeVersionFor(state.engine.dockerClient),
    registryAnswers(state.registries.upstream.url),
    registryAnswers(state.registries.private.url),
  ]);
  const basePresent = upstreamUp && (await present(state.baseImage.reference, state.baseImage.digest));
  const standIns = await Promise.all(
    state.standIns.images.map(async (image) => ({
      name: image.name,
      present: upstreamUp && (await present(image.reference, image.digest)),
    })),
  );
  const daggerUp = state.dagger
    ? await engineContainerRunning(state.engine.dockerClient, state.dagger.container)
    : undefined;
  const dockerdPid = labDockerdPid(state.stateDir);
  const upstreamPid = labRegistryPid(state.registries.upstream);
  const privatePid = labRegistryPid(state.registries.private);
  const live: Liveness = {
    engine: {
      up: engine !== undefined,
      ...(engine ? { version: engine } : {}),
      ...(dockerdPid ? { dockerdPidStartedByLab: dockerdPid } : {}),
    },
    compose: { up: compose !== undefined, ...(compose ? { version: compose } : {}) },
    upstream: { up: upstreamUp, ...(upstreamPid ? { pid: upstreamPid } : {}) },
    private: { up: privateUp, ...(privatePid ? { pid: privatePid } : {}) },
    baseImage: { present: basePresent },
    standIns,
    ...(daggerUp === undefined ? {} : { dagger: { up: daggerUp } }),
  };
  const ready =
    live.engine.up &&
    live.compose.up &&
    upstreamUp &&
    privateUp &&
    basePresent &&
    standIns.every((image) => image.present) &&
    (live.dagger?.up ?? true);
  return { ...state, live, ready };
}

export function formatStatus(status: LabStatus): string {
  const mark = (up: boolean) => (up ? "up  " : "DOWN");
  const lines = [
    `lab state: ${status.stateDir}/lab.json (last up ${status.lastUp.at}, ${status.lastUp.seconds.toFixed(1)}s)`,
    `${mark(status.live.engine.up)} engine     ${status.engine.host} via ${status.engine.dockerClient}, server ${status.live.engine.version ?? status.engine.serverVersion}${status.engine.startedByLab ? " (started by the lab)" : " (not started by the lab)"}`,
    `${mark(status.live.compose.up)} compose    ${status.compose.kind} ${status.compose.version} (${status.compose.plugin})`,
    `${mark(status.live.upstream.up)} upstream   ${status.upstream} (data ${status.registries.upstream.dataDir})`,
    `${mark(status.live.private.up)} private    ${status.private} (data ${status.registries.private.dataDir})`,
    `${mark(status.live.baseImage.present)} base image ${status.baseImage.reference} (Debian ${status.baseImage.debianVersion})`,
    ...(status.standIns.status === "ready"
      ? status.live.standIns.map((image) => {
          const reference = status.standIns.images.find((i) => i.name === image.name)?.reference ?? "";
          return `${mark(image.present)} stand-in   ${image.name}: ${reference}`;
        })
      : ["n/a  stand-ins  not available yet"]),
    status.dagger
      ? `${mark(status.live.dagger?.up ?? false)} dagger     ${status.dagger.engineVersion} in container ${status.dagger.container} (cli ${status.dagger.linked ?? status.dagger.cli})`
      : "n/a  dagger     off (E2E3D_LAB_DAGGER=off): builds use the Docker engine",
    `n/a  grafana    ${status.grafana}`,
    status.ready ? "lab is ready" : "lab is NOT ready: run `npx tsx tools/lab/src/cli.ts up`",
  ];
  return lines.join("\n");
}
