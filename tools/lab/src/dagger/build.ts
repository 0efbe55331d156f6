// The Dagger CLI and engine binaries, built from the Go module proxy (no Dagger download channel reaches these
// machines). tools/lab/dagger/go.mod is a wrapper module that requires github.com/dagger/dagger at the pinned version
// and replaces what the proxy cannot serve:
//   - github.com/dagger/dagger/engine/distconsts: upstream replaces it with a directory the module zip lacks; the
//     lab's ./distconsts declares only the names and values the engine's code reads.
//   - github.com/vito/dang/v2 and github.com/vito/midterm at the pseudo-versions Dagger pins are refused by the proxy:
//     the build copies the newest releases it serves (below) out of the module cache into <state>/dagger/src
//     (never into the repository) and adapts them there, see prepareSources().
//   - github.com/vito/tuist(/teav1): compile-only stand-ins (./standins), so the CLI has no interactive TUI; the lab's
//     `dagger` wrapper defaults to plain progress (see wrapper.ts).
// Binaries are cached by a hash of every file of the wrapper module, the replacement versions and the Go version, so
// a second `up` builds nothing.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { requiredGoVersion, versionAtLeast } from "../compose.js";
import { CommandFailedError, LabError, tail } from "../errors.js";
import { run, safeRead } from "../exec.js";
import { findGo, goEnvironment } from "../go.js";
import type { Log } from "../progress.js";

export const DAGGER_MODULE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "dagger");

/** Releases the proxy serves, used in place of the pseudo-versions Dagger v0.21.8 requires (which it refuses). */
export const DANG_RELEASE = "github.com/vito/dang@v1.0.1";
export const MIDTERM_RELEASE = "github.com/vito/midterm@v0.2.4";

/** Go is missing or older than the wrapper module's `go` line. */
export class DaggerToolchainError extends LabError {}

/** The Dagger version the wrapper module pins, e.g. "v0.21.8" (the CLI, the engine and the SDK must all be it). */
export function pinnedDaggerVersion(moduleDir = DAGGER_MODULE_DIR): string {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const match = /^\s*github\.com\/dagger\/dagger\s+(v\d+\.\d+\.\d+)\b/m.exec(goMod);
  if (!match) {
    throw new LabError(`${moduleDir}/go.mod does not require github.com/dagger/dagger at a release`, {
      hint: "restore tools/lab/dagger/go.mod from git",
    });
  }
  return match[1]!;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      return entry.isDirectory() ? filesUnder(path) : [path];
    })
    .sort();
}

/** Hash of everything that decides the binaries: the wrapper module's files, the replacement releases, Go's version. */
export function sourceHash(goVersion: string, moduleDir = DAGGER_MODULE_DIR): string {
  const hash = createHash("sha256").update(`${goVersion}\0${DANG_RELEASE}\0${MIDTERM_RELEASE}\0`);
  for (const file of filesUnder(moduleDir)) {
    // image/ is the engine image's context: it changes the image, not the binaries (image.ts hashes it).
    if (relative(moduleDir, file).startsWith("image/")) continue;
    hash
      .update(`${relative(moduleDir, file)}\0`)
      .update(readFileSync(file))
      .update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

export interface DaggerBinaries {
  version: string;
  hash: string;
  dir: string;
  cli: string;
  engine: string;
  init: string;
  dnsname: string;
  dialStdio: string;
  /** Seconds the build took; 0 when the binaries for this hash were already there. */
  seconds: number;
}

async function goVersionOf(go: string | undefined): Promise<string | undefined> {
  if (!go) return undefined;
  const result = await run(go, ["env", "GOVERSION"]);
  return result.code === 0 ? result.stdout.trim().replace(/^go/, "") : undefined;
}

/** Builds the five binaries (or finds them for this source hash) under <state>/dagger/build/<version>-<hash>. */
export async function ensureDaggerBinaries(stateDir: string, log: Log): Promise<DaggerBinaries> {
  const version = pinnedDaggerVersion();
  const go = findGo();
  const goVersion = await goVersionOf(go);
  const needed = requiredGoVersion(DAGGER_MODULE_DIR);
  if (!go || !goVersion || !versionAtLeast(goVersion, needed)) {
    throw new DaggerToolchainError(`building the lab's Dagger ${version} needs Go >= ${needed}`, {
      context: { module: DAGGER_MODULE_DIR, found: goVersion ?? "no go on PATH or in /usr/local/go/bin" },
      hint: `install Go ${needed} or newer, then run up again`,
    });
  }
  const hash = sourceHash(goVersion);
  const dir = join(stateDir, "dagger", "build", `${version}-${hash}`);
  const binaries = {
    version,
    hash,
    dir,
    cli: join(dir, "dagger"),
    engine: join(dir, "engine"),
    init: join(dir, "init"),
    dnsname: join(dir, "dnsname"),
    dialStdio: join(dir, "dialstdio"),
  };
  if (existsSync(join(dir, "build.json"))) return { ...binaries, seconds: 0 };

  const logFile = join(stateDir, "dagger", "build.log");
  await mkdir(dirname(logFile), { recursive: true });
  await writeFile(logFile, "");
  const started = Date.now();
  const heartbeat = setInterval(
    () => log(`still building Dagger ${version} (${Math.round((Date.now() - started) / 1000)}s; log: ${logFile})`),
    30_000,
  );
  try {
    const src = await prepareSources(go, stateDir, logFile, log);
    const staging = `${dir}.tmp`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    const ldflags = `-s -w -X github.com/dagger/dagger/engine.Version=${version} -X github.com/dagger/dagger/engine.Tag=${version}`;
    const tags = "dfexcludepatterns,dfparents"; // upstream's engine build tags (Dockerfile frontend features)
    log(`building Dagger ${version}: engine, CLI, dnsname, dial-stdio (go ${goVersion}; log: ${logFile})`);
    await goBuild(go, src, stateDir, true, logFile, [
      "-tags",
      tags,
      "-ldflags",
      ldflags,
      "-o",
      `${staging}/`,
      "github.com/dagger/dagger/cmd/engine",
      "github.com/dagger/dagger/cmd/dagger",
      "github.com/dagger/dagger/cmd/dnsname",
      "github.com/dagger/dagger/cmd/dialstdio",
    ]);
    log(`building Dagger ${version}: dagger-init (static)`);
    await goBuild(go, src, stateDir, false, logFile, [
      "-ldflags",
      ldflags,
      "-o",
      `${staging}/`,
      "github.com/dagger/dagger/cmd/init",
    ]);
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    await writeFile(join(staging, "build.json"), `${JSON.stringify({ version, hash, goVersion, seconds }, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    return { ...binaries, seconds };
  } finally {
    clearInterval(heartbeat);
  }
}

async function goBuild(
  go: string,
  cwd: string,
  stateDir: string,
  cgo: boolean,
  logFile: string,
  args: string[],
): Promise<void> {
  // cgo: the engine and CLI link tree-sitter grammars (C); dagger-init runs in every container the engine starts,
  // whatever its libc, so it is built static.
  const result = await run(go, ["build", "-trimpath", ...args], {
    cwd,
    env: goEnvironment(stateDir, { cgo }),
    logFile,
  });
  if (result.code !== 0) {
    throw new CommandFailedError(`building the lab's Dagger failed (go build, exit ${result.code})`, {
      context: { module: cwd, packages: args.filter((arg) => arg.startsWith("github.com/")).join(" "), log: logFile },
      logTail: tail(safeRead(logFile)),
      hint: "check access to the Go module proxy (GOPROXY) and the free disk space of the lab state dir (the module cache needs ~2 GB); then run up again",
    });
  }
}

/** The directory of a module version in the lab's module cache, downloading it through the proxy if needed. */
async function moduleDir(go: string, release: string, stateDir: string, logFile: string): Promise<string> {
  const result = await run(go, ["mod", "download", "-json", release], {
    cwd: stateDir, // outside any module: `go mod download mod@version` needs no go.mod
    env: { ...goEnvironment(stateDir), GOFLAGS: "-buildvcs=false" },
  });
  const parsed = result.code === 0 ? (JSON.parse(result.stdout) as { Dir?: string; Error?: string }) : undefined;
  if (!parsed?.Dir) {
    throw new CommandFailedError(`cannot download ${release} from the Go module proxy`, {
      context: { release, log: logFile },
      logTail: tail(parsed?.Error ?? `${result.stdout}\n${result.stderr}`),
      hint: "check access to the Go module proxy (GOPROXY), then run up again",
    });
  }
  return parsed.Dir;
}

async function rewriteGoFiles(dir: string, rewrite: (text: string) => string): Promise<void> {
  for (const file of filesUnder(dir)) {
    if (!file.endsWith(".go")) continue;
    const text = await readFile(file, "utf8");
    const next = rewrite(text);
    if (next !== text) await writeFile(file, next);
  }
}

/**
 * <state>/dagger/src: the wrapper module plus the two adapted releases its go.mod points at (third_party/):
 *   dang-v2: dang v1.0.1 under the module path github.com/vito/dang/v2. Dagger links both dang majors, so the copy's
 *            tree-sitter symbols get another name (the C grammar is included through cgo defines in its .go files).
 *   midterm: v0.2.4 plus standins/midterm/search.go.in, the search API the interactive pager (absent here) calls.
 */
async function prepareSources(go: string, stateDir: string, logFile: string, log: Log): Promise<string> {
  const src = join(stateDir, "dagger", "src");
  await rm(src, { recursive: true, force: true });
  await cp(DAGGER_MODULE_DIR, src, {
    recursive: true,
    filter: (path) => !relative(DAGGER_MODULE_DIR, path).startsWith("image"),
  });
  log(`adapting ${DANG_RELEASE} and ${MIDTERM_RELEASE} from the module cache (${src}/third_party)`);
  const dang = join(src, "third_party", "dang-v2");
  await cp(await moduleDir(go, DANG_RELEASE, stateDir, logFile), dang, { recursive: true });
  await makeWritable(dang);
  const dangMod = join(dang, "go.mod");
  await writeFile(
    dangMod,
    (await readFile(dangMod, "utf8")).replace(/^module github\.com\/vito\/dang$/m, "module github.com/vito/dang/v2"),
  );
  await rewriteGoFiles(dang, (text) =>
    text
      .replaceAll('"github.com/vito/dang/', '"github.com/vito/dang/v2/')
      .replaceAll("tree_sitter_dang_v1", "tree_sitter_dang_lab_v2"),
  );
  const midterm = join(src, "third_party", "midterm");
  await cp(await moduleDir(go, MIDTERM_RELEASE, stateDir, logFile), midterm, { recursive: true });
  await makeWritable(midterm);
  await cp(join(DAGGER_MODULE_DIR, "standins", "midterm", "search.go.in"), join(midterm, "search_lab.go"));
  return src;
}

/** The module cache is read-only; copies of it must be writable to be adapted (and removed later). */
async function makeWritable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeWritable(path);
    else await chmod(path, statSync(path).mode | 0o200);
  }
}
