// The build context, exactly as an engine receives it: the files under the context directory that the image's
// include list selects and `.dockerignore` does not exclude (Docker's own matching rules, via @balena/dockerignore).
// The pipeline stages those files into a fresh directory and hands only that to the engine, so the input digest is
// computed over precisely what is sent and unrelated files can neither bust the cache nor leak into an image.
import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { BuildInputError } from "../errors.js";

// The package is CommonJS with a default-export declaration; require() gives the factory with the right type.
const dockerignore = createRequire(import.meta.url)(
  "@balena/dockerignore",
) as typeof import("@balena/dockerignore").default;

export interface ContextFile {
  /** Path relative to the context root, "/"-separated. */
  path: string;
  kind: "file" | "symlink";
  /** Permission bits (COPY preserves them, so they are part of the image). */
  mode: number;
  sha256?: string;
  target?: string;
}

export interface ContextSpec {
  /** Absolute context directory. */
  dir: string;
  /** Absolute Dockerfile path; it must lie inside the context. */
  dockerfile: string;
  /** Dockerignore-style patterns relative to the context; empty means everything. */
  include?: readonly string[];
  /** Dockerignore-style patterns excluded on top of the ignore file (tool caches that must never bust the cache). */
  exclude?: readonly string[];
}

const toPosix = (p: string): string => p.split(sep).join("/");
const GLOB = /[*?[\\]/;

/** Docker's ignore file for a Dockerfile: `<Dockerfile>.dockerignore` next to it wins over `<context>/.dockerignore`. */
export async function readIgnorePatterns(spec: ContextSpec): Promise<string[]> {
  for (const file of [`${spec.dockerfile}.dockerignore`, join(spec.dir, ".dockerignore")]) {
    if (existsSync(file)) {
      return (await readFile(file, "utf8"))
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== "" && !line.startsWith("#"));
    }
  }
  return [];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Lists (and hashes) the files the context sends, sorted by path. */
export async function listContextFiles(spec: ContextSpec): Promise<ContextFile[]> {
  const root = resolve(spec.dir);
  if (!existsSync(root)) {
    throw new BuildInputError(`build context ${root} does not exist`, { hint: "fix the image table's context path" });
  }
  const ignorePatterns = [...(await readIgnorePatterns(spec)), ...(spec.exclude ?? [])];
  const ignored = dockerignore().add(ignorePatterns);
  // Like Docker, prune an ignored directory only when no "!" pattern could bring something under it back.
  const canPrune = !ignorePatterns.some((p) => p.startsWith("!"));
  const include = spec.include ?? [];
  const included = dockerignore().add([...include]);
  const includePrefixes = include.map((p) => {
    const clean = p.replace(/^\.?\//, "");
    const glob = clean.search(GLOB);
    return glob < 0 ? clean : clean.slice(0, clean.lastIndexOf("/", glob) + 1);
  });
  const mayContainIncluded = (dir: string) =>
    include.length === 0 ||
    included.ignores(dir) ||
    includePrefixes.some((prefix) => prefix === "" || prefix.startsWith(`${dir}/`) || `${dir}/`.startsWith(prefix));

  const files: ContextFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      const rel = toPosix(relative(root, abs));
      if (entry.isDirectory()) {
        if (canPrune && ignored.ignores(rel)) continue;
        if (!mayContainIncluded(rel)) continue;
        await walk(abs);
        continue;
      }
      if (ignored.ignores(rel)) continue;
      if (include.length > 0 && !included.ignores(rel)) continue;
      const stat = await lstat(abs);
      if (entry.isSymbolicLink()) {
        files.push({ path: rel, kind: "symlink", mode: stat.mode & 0o777, target: await readlink(abs) });
      } else if (entry.isFile()) {
        files.push({ path: rel, kind: "file", mode: stat.mode & 0o777, sha256: await sha256File(abs) });
      }
      // Sockets, FIFOs and devices are never part of a build context.
    }
  };
  await walk(root);
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export interface StagedContext {
  dir: string;
  /** The Dockerfile's path inside the staged directory. */
  dockerfile: string;
  files: ContextFile[];
  remove(): Promise<void>;
}

/** Copies the listed files (and the Dockerfile, which engines read from inside the context) into a fresh directory. */
export async function stageContext(spec: ContextSpec, files: ContextFile[]): Promise<StagedContext> {
  const root = resolve(spec.dir);
  const dockerfileRel = toPosix(relative(root, resolve(spec.dockerfile)));
  if (dockerfileRel.startsWith("../") || dockerfileRel === "..") {
    throw new BuildInputError(`Dockerfile ${spec.dockerfile} is outside its context ${root}`, {
      hint: "put the Dockerfile inside the context directory (both engines read it from there)",
    });
  }
  const dir = await mkdtemp(join(tmpdir(), "e2e3d-context-"));
  try {
    const toCopy = files.some((f) => f.path === dockerfileRel)
      ? files
      : [...files, { path: dockerfileRel, kind: "file" as const, mode: 0o644 }];
    for (const file of toCopy) {
      const target = join(dir, file.path);
      await mkdir(dirname(target), { recursive: true });
      if (file.kind === "symlink") await symlink(file.target!, target);
      else await copyFile(join(root, file.path), target);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new BuildInputError(`cannot stage the build context ${root}: ${(error as Error).message}`, { cause: error });
  }
  return { dir, dockerfile: dockerfileRel, files, remove: () => rm(dir, { recursive: true, force: true }) };
}
