// Builds the stand-ins Debian does not package (statsd_exporter, versitygw) from the Go module proxy: a pinned
// module version, static (CGO off), with GOPATH/GOCACHE/GOMODCACHE under <stateDir>/go so a rebuild is cached
// and a built version is never built again.
import { createHash } from "node:crypto";
import { access, constants, mkdir, stat } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { GoSource } from "./catalog.js";
import { GoToolchainError, StandInBuildError } from "./errors.js";
import { runCommand } from "./exec.js";

/** Oldest Go that builds the pinned modules (versitygw v1.8.0 declares go 1.25.0). */
const MIN_GO_MINOR = 25;

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** E2E3D_GO, then `go` on PATH, then the official tarball's usual place. */
export async function findGo(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const candidates = [
    env["E2E3D_GO"],
    ...(env["PATH"] ?? "").split(delimiter).map((dir) => (dir ? join(dir, "go") : undefined)),
    "/usr/local/go/bin/go",
  ].filter((c): c is string => Boolean(c));
  const tried: string[] = [];
  for (const candidate of candidates) {
    if (!(await isExecutable(candidate))) continue;
    const result = await runCommand(candidate, ["env", "GOVERSION"], { env: { ...env, GOTOOLCHAIN: "local" } });
    const version = result.stdout.trim();
    const minor = /^go1\.(\d+)/.exec(version);
    // Go >= 1.21 fetches a newer toolchain from the module proxy itself (GOTOOLCHAIN=auto); older cannot.
    if (result.code === 0 && minor && Number(minor[1]) >= 21) return candidate;
    tried.push(`${candidate} (${version || "unusable"})`);
  }
  throw new GoToolchainError("no Go toolchain (1.21 or newer) found to build statsd_exporter and versitygw", {
    context: { tried: tried.join(", ") || "none", PATH: env["PATH"] },
    hint: `install Go 1.${MIN_GO_MINOR}+ (https://go.dev/dl, e.g. into /usr/local/go) or set E2E3D_GO to its go binary`,
  });
}

export interface GoBuildOptions {
  stateDir: string;
  log: (line: string) => void;
  logFile: string;
}

/** Returns the path of the built binary; builds it only when this module version was never built here. */
export async function buildGoBinary(source: GoSource, options: GoBuildOptions): Promise<string> {
  const goRoot = join(options.stateDir, "go");
  // One directory per module version and flags: a built binary is reused, never rebuilt.
  const flags = ["-s -w", source.ldflags ?? ""].join(" ").trim();
  const flagsKey = createHash("sha256").update(flags).digest("hex").slice(0, 12);
  const binDir = join(goRoot, "bin", `${source.binary}@${source.version}-${flagsKey}`);
  const binary = join(binDir, source.binary);
  try {
    if ((await stat(binary)).size > 0) return binary;
  } catch {
    // Not built yet.
  }
  const go = await findGo();
  await mkdir(binDir, { recursive: true });
  const started = Date.now();
  options.log(`stand-ins: building ${source.installPath}@${source.version} with ${go} (Go module proxy)`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOPATH: join(goRoot, "path"),
    GOCACHE: join(goRoot, "cache"),
    GOMODCACHE: join(goRoot, "mod"),
    GOBIN: binDir,
    CGO_ENABLED: "0",
    GOFLAGS: "-trimpath -buildvcs=false",
    GOTOOLCHAIN: "auto",
  };
  const result = await runCommand(go, ["install", `-ldflags=${flags}`, `${source.installPath}@${source.version}`], {
    env,
    logFile: options.logFile,
  });
  if (result.code !== 0) {
    throw new StandInBuildError(`go install ${source.installPath}@${source.version} failed`, {
      context: { go, exitCode: result.code, log: options.logFile },
      logTail: result.outputTail,
      hint: "check that the Go module proxy is reachable (GOPROXY) and the pinned version exists",
    });
  }
  options.log(`stand-ins: built ${source.binary} ${source.version} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return binary;
}
