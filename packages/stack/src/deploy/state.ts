// The deploy state dir: per project, the secrets (owner-only), the generated configs the running stack uses, and the
// deployment record that rollback reads. Nothing here is in git.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { StackError } from "../errors.js";
import { COMPOSE_FILE } from "../render/index.js";

export interface ProjectState {
  root: string;
  secretsFile: string;
  /** The generated files of the current deployment (compose file + configs). */
  currentDir: string;
  recordFile: string;
}

export function projectState(stateDir: string, project: string): ProjectState {
  const root = join(stateDir, project);
  return {
    root,
    secretsFile: join(root, "secrets.env"),
    currentDir: join(root, "current"),
    recordFile: join(root, "deployments.json"),
  };
}

export const composeFileIn = (dir: string) => join(dir, COMPOSE_FILE);

/** Writes a rendered file set into `dir` (replacing it whole): configs readable by the non-root services. */
export function writeFiles(dir: string, files: Map<string, string>): void {
  const temp = `${dir}.new-${randomBytes(4).toString("hex")}`;
  mkdirSync(temp, { recursive: true, mode: 0o755 });
  for (const [path, content] of files) {
    const full = join(temp, path);
    mkdirSync(dirname(full), { recursive: true, mode: 0o755 });
    writeFileSync(full, content, { mode: 0o644 });
    chmodSync(full, 0o644);
  }
  chmodSync(temp, 0o755);
  const old = `${dir}.old-${randomBytes(4).toString("hex")}`;
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(temp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function ensureProjectRoot(state: ProjectState): void {
  mkdirSync(state.root, { recursive: true, mode: 0o700 });
  chmodSync(state.root, 0o700);
}

const DeploymentRecord = z.object({
  id: z.string(),
  at: z.string(),
  profile: z.string(),
  images: z.record(z.string(), z.string()),
  outcome: z.enum(["succeeded", "failed", "rolled-back-to"]),
  note: z.string().optional(),
});
export type DeploymentRecord = z.infer<typeof DeploymentRecord>;
const Records = z.array(DeploymentRecord);

export function readRecords(state: ProjectState): DeploymentRecord[] {
  if (!existsSync(state.recordFile)) return [];
  const parsed = Records.safeParse(JSON.parse(readFileSync(state.recordFile, "utf8")));
  if (!parsed.success) {
    throw new StackError("the deployment record is unreadable", {
      context: { file: state.recordFile },
      hint: "move it aside; deploy then treats this as a first deployment (no rollback target)",
    });
  }
  return parsed.data;
}

/** The last deployment that succeeded (the rollback target). */
export function lastSuccessful(state: ProjectState): DeploymentRecord | undefined {
  return readRecords(state)
    .filter((r) => r.outcome === "succeeded" || r.outcome === "rolled-back-to")
    .at(-1);
}

export function appendRecord(state: ProjectState, record: DeploymentRecord): void {
  const records = [...readRecords(state), record].slice(-50);
  const temp = `${state.recordFile}.tmp`;
  writeFileSync(temp, `${JSON.stringify(records, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, state.recordFile);
}
