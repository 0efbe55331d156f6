// lab.json: what `up` brought up and where, for `status`, `down` and every other package (readLabState()).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";
import { labStateDir } from "./config.js";
import { DaggerStateSchema } from "./dagger/index.js";
import { LabStateError } from "./errors.js";

export const LAB_STATE_FILE = "lab.json";
export const GRAFANA_NOTE = "not available on this machine: no build exists; the lab stack runs without it";

const ProcessInfo = z.object({
  pid: z.number().int().positive(),
  log: z.string(),
});

const RegistryState = z.object({
  address: z.string(),
  url: z.string(),
  configFile: z.string(),
  dataDir: z.string(),
  log: z.string(),
  pidFile: z.string(),
});

export const StandInSchema = z.object({ name: z.string(), reference: z.string(), digest: z.string() });
export type StandIn = z.infer<typeof StandInSchema>;

export const LabStateSchema = z.object({
  schemaVersion: z.literal(1),
  stateDir: z.string(),
  updatedAt: z.string(),
  /** Registry host:port, the shared contract's two endpoints. */
  upstream: z.string(),
  private: z.string(),
  engine: z.object({
    /** What DOCKER_HOST the clients use (the default socket unless DOCKER_HOST was set). */
    host: z.string(),
    /** The client that does BuildKit builds on this machine (Debian's /usr/bin/docker when present). */
    dockerClient: z.string(),
    buildkit: z.boolean(),
    serverVersion: z.string(),
    startedByLab: z.boolean(),
    daemon: ProcessInfo.optional(),
  }),
  compose: z.object({
    kind: z.enum(["v2-plugin", "v1-shim"]),
    version: z.string(),
    plugin: z.string(),
    buildSeconds: z.number().optional(),
    notes: z.string(),
  }),
  registries: z.object({ upstream: RegistryState, private: RegistryState }),
  baseImage: z.object({
    repository: z.string(),
    tags: z.array(z.string()),
    digest: z.string().regex(/^sha256:[0-9a-f]{64}$/),
    /** `<upstream>/docker.io/library/debian@sha256:...`: what the Dockerfiles' BASE_IMAGE takes. */
    reference: z.string(),
    debianVersion: z.string(),
  }),
  standIns: z.object({
    status: z.enum(["ready", "not available yet"]),
    images: z.array(StandInSchema),
  }),
  /** The lab's Dagger engine; absent when E2E3D_LAB_DAGGER=off (the Dagger suites' skip check reads this key). */
  dagger: DaggerStateSchema.optional(),
  grafana: z.string(),
  lastUp: z.object({
    at: z.string(),
    seconds: z.number(),
    steps: z.array(z.object({ name: z.string(), changed: z.boolean(), detail: z.string(), seconds: z.number() })),
  }),
});
export type LabState = z.infer<typeof LabStateSchema>;

export const labStatePath = (stateDir = labStateDir()): string => join(stateDir, LAB_STATE_FILE);

/** Parses lab.json text; a clear error (which file, which field) when it does not match. */
export function parseLabState(text: string, path: string): LabState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new LabStateError(`${path} is not valid JSON`, {
      context: { file: path },
      cause: error,
      hint: "run `npx tsx tools/lab/src/cli.ts up` to rewrite it",
    });
  }
  const parsed = LabStateSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
    throw new LabStateError(`${path} does not match the lab state schema`, {
      context: { file: path, problems: issues.slice(0, 5).join("; ") },
      hint: "run `npx tsx tools/lab/src/cli.ts up` to rewrite it",
    });
  }
  return parsed.data;
}

/** Reads the lab's state; throws a LabStateError that says to run `up` when the lab was never brought up. */
export async function readLabState(stateDir = labStateDir()): Promise<LabState> {
  const path = labStatePath(stateDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new LabStateError(`the lab has not been brought up: ${path} does not exist`, {
        context: { file: path },
        hint: "run `npx tsx tools/lab/src/cli.ts up` first",
      });
    }
    throw new LabStateError(`cannot read ${path}`, { context: { file: path }, cause: error });
  }
  return parseLabState(text, path);
}

/** Reads lab.json if it exists and parses; undefined otherwise (for `up`, which rewrites it anyway). */
export async function readLabStateIfAny(stateDir: string): Promise<LabState | undefined> {
  try {
    return await readLabState(stateDir);
  } catch {
    return undefined;
  }
}

/** Writes lab.json atomically (rename), so readers never see half a file. */
export async function writeLabState(state: LabState): Promise<string> {
  const validated = LabStateSchema.parse(state);
  const path = labStatePath(state.stateDir);
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(validated, null, 2)}\n`);
  await rename(temporary, path);
  return path;
}
