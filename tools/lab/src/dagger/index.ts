// Step 6 of `up`: the lab's Dagger engine, so the delivery's Dagger path runs here for real (ARCHITECTURE.md, "the
// engine split"): CLI and engine built from the Go module proxy at the SDK's version (build.ts), the engine image on
// the lab's Debian base (image.ts), the engine container without --privileged on the host network (container.ts), and
// the `dagger` command that attaches to it (wrapper.ts). Each part is skipped when already in place.
import { z } from "zod";
import { LabError } from "../errors.js";
import type { Log, StepOutcome } from "../progress.js";
import { ensureDaggerBinaries } from "./build.js";
import { engineContainerRunning, ensureEngineContainer, stopEngineContainer, waitForEngine } from "./container.js";
import { ensureEngineImage } from "./image.js";
import { installWrapper } from "./wrapper.js";

export { pinnedDaggerVersion } from "./build.js";

export const DaggerStateSchema = z.object({
  version: z.string(),
  /** The `dagger` to run: the lab's wrapper (<state>/dagger/bin/dagger). */
  cli: z.string(),
  /** /usr/local/bin/dagger when the lab linked its wrapper there. */
  linked: z.string().optional(),
  /** The built CLI the wrapper runs. */
  binary: z.string(),
  container: z.string(),
  runnerHost: z.string(),
  image: z.object({ reference: z.string(), id: z.string() }),
  /** The version the running engine reported to `dagger core version`. */
  engineVersion: z.string(),
  buildSeconds: z.number(),
  imageSeconds: z.number(),
});
export type DaggerState = z.infer<typeof DaggerStateSchema>;

/** E2E3D_LAB_DAGGER=off leaves the engine out (e.g. a machine without Go); the Dagger suites then skip, outside CI. */
export const daggerDisabled = (env: NodeJS.ProcessEnv = process.env): boolean =>
  /^(off|0|false|no)$/i.test(env["E2E3D_LAB_DAGGER"]?.trim() ?? "");

export class DaggerEngineVersionError extends LabError {}

export async function ensureDaggerEngine(
  ctx: { docker: string; baseImage: string; registries: string[]; stateDir: string },
  log: Log,
): Promise<StepOutcome<DaggerState | undefined>> {
  if (daggerDisabled()) {
    log("dagger: E2E3D_LAB_DAGGER=off: no engine (the delivery builds with the Docker engine)");
    return { value: undefined, changed: false, detail: "off (E2E3D_LAB_DAGGER=off)" };
  }
  const binaries = await ensureDaggerBinaries(ctx.stateDir, log);
  const image = await ensureEngineImage(ctx.docker, binaries, ctx.baseImage, ctx.stateDir, log);
  const container = await ensureEngineContainer(ctx.docker, image, binaries.version, ctx.registries, ctx.stateDir, log);
  const cli = await installWrapper(ctx.stateDir, binaries.cli, container.runnerHost, log);
  const engineVersion = await waitForEngine(cli.wrapper, process.env, ctx.docker, container.name);
  if (engineVersion !== binaries.version) {
    throw new DaggerEngineVersionError(`the engine in ${container.name} is ${engineVersion}, not ${binaries.version}`, {
      context: { container: container.name, image: image.reference },
      hint: `remove it (docker rm -f ${container.name}) and run up again`,
    });
  }
  const changed = binaries.seconds > 0 || image.seconds > 0 || container.action !== "running";
  const did = [
    binaries.seconds > 0 ? `built CLI and engine in ${binaries.seconds}s` : "binaries cached",
    image.seconds > 0 ? `image built in ${image.seconds}s` : "image up to date",
    `container ${container.action}`,
  ].join(", ");
  log(`dagger: ${cli.note}`);
  return {
    value: {
      version: binaries.version,
      cli: cli.wrapper,
      ...(cli.linked ? { linked: cli.linked } : {}),
      binary: binaries.cli,
      container: container.name,
      runnerHost: container.runnerHost,
      image: { reference: image.reference, id: image.id },
      engineVersion,
      buildSeconds: binaries.seconds,
      imageSeconds: image.seconds,
    },
    changed,
    detail: `engine ${engineVersion} in ${container.name} (${did})`,
  };
}

export { engineContainerRunning, stopEngineContainer };
