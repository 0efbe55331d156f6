// The input digest: one sha256 over everything that can change an image, so a registry tag `in-<hex>` says "an
// image of exactly these inputs exists". Inputs: the Dockerfile, every file the context sends (path, permission
// bits, content; symlink targets), the build args, the target stage and the pinned base digest.
// SOURCE_DATE_EPOCH is deliberately left out: it is a timestamp normaliser derived from git history, and including
// it would turn every commit into a cache miss even when no input changed.
import { createHash } from "node:crypto";
import type { ContextFile } from "./context.js";

export const INPUT_DIGEST_VERSION = "e2e3d-input-digest/v1";
/** Build args that never enter the digest (see above). */
export const NON_INPUT_BUILD_ARGS = new Set(["SOURCE_DATE_EPOCH"]);

export interface BuildInputs {
  dockerfile: { path: string; content: string | Buffer };
  files: readonly ContextFile[];
  buildArgs: Readonly<Record<string, string>>;
  target?: string | undefined;
  /** The base image's digest from the lock (sha256:...). */
  baseDigest: string;
}

export function computeInputDigest(inputs: BuildInputs): string {
  const hash = createHash("sha256");
  // One record per line, every field length-safe (paths cannot contain newlines in a context we accept).
  const line = (...fields: string[]) => hash.update(`${fields.join("\t")}\n`);
  line(INPUT_DIGEST_VERSION);
  line("dockerfile", inputs.dockerfile.path, createHash("sha256").update(inputs.dockerfile.content).digest("hex"));
  line("base", inputs.baseDigest);
  line("target", inputs.target ?? "");
  for (const name of Object.keys(inputs.buildArgs).sort()) {
    if (!NON_INPUT_BUILD_ARGS.has(name)) line("arg", name, JSON.stringify(inputs.buildArgs[name]));
  }
  for (const file of [...inputs.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
    if (file.path.includes("\n")) throw new Error(`context path with a newline: ${JSON.stringify(file.path)}`);
    const content = file.kind === "symlink" ? `-> ${file.target}` : (file.sha256 ?? "");
    line(file.kind, file.mode.toString(8), content, file.path);
  }
  return `sha256:${hash.digest("hex")}`;
}

/** The registry tag that marks an image built from these inputs. */
export const inputDigestTag = (inputDigest: string): string => `in-${inputDigest.replace(/^sha256:/, "")}`;
