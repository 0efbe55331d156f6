// Step 5: the stand-in third-party images. Their code lives in ./standins/ (owned separately); the lab calls
// ensureStandIns() with the agreed signature and checks what comes back. Until that module exists, `up` says so.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { LabError } from "./errors.js";
import type { Log, StepOutcome } from "./progress.js";
import { type StandIn, StandInSchema } from "./state.js";

export interface StandInContext {
  docker: string;
  upstream: string;
  baseImage: string;
  stateDir: string;
  log: (line: string) => void;
}

type EnsureStandIns = (ctx: StandInContext) => Promise<StandIn[]>;

const STANDINS_ENTRY = join(dirname(fileURLToPath(import.meta.url)), "standins", "index.ts");

export async function ensureStandInImages(
  ctx: StandInContext,
  log: Log,
): Promise<StepOutcome<{ status: "ready" | "not available yet"; images: StandIn[] }>> {
  if (!existsSync(STANDINS_ENTRY)) {
    log(`stand-in images: not available yet (${STANDINS_ENTRY} does not exist)`);
    return { value: { status: "not available yet", images: [] }, changed: false, detail: "not available yet" };
  }
  // A computed specifier: the module is optional, so the type checker must not require it to exist.
  const specifier = "./standins/index.js";
  const module = (await import(specifier)) as { ensureStandIns?: EnsureStandIns };
  if (typeof module.ensureStandIns !== "function") {
    throw new LabError(`${STANDINS_ENTRY} does not export ensureStandIns()`, {
      hint: "export async function ensureStandIns(ctx): Promise<{ name, reference, digest }[]> from it",
    });
  }
  const result = await module.ensureStandIns(ctx);
  const parsed = z.array(StandInSchema).safeParse(result);
  if (!parsed.success) {
    throw new LabError("ensureStandIns() returned something other than { name, reference, digest }[]", {
      context: { problem: parsed.error.issues[0]?.message },
    });
  }
  const images = parsed.data;
  // The stand-ins module reports what it built through ctx.log; whether it did work is not part of its contract,
  // so this step counts as "changed" only when the set of digests differs from the last `up`.
  return {
    value: { status: "ready", images },
    changed: false,
    detail: `${images.length} stand-in image(s): ${images.map((image) => image.name).join(", ")}`,
  };
}
