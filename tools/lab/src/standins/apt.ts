// Resolves the exact Debian package versions the lab base's apt sources offer, once per base image, and keeps
// them in the lab state dir. The stand-ins install exactly these versions, their labels and tags report them, and
// the no-op path needs no container at all.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { StandInBuildError } from "./errors.js";
import { runCommand } from "./exec.js";

const CacheFile = z.object({
  version: z.literal(1),
  bases: z.record(z.string(), z.object({ resolvedAt: z.string(), packages: z.record(z.string(), z.string()) })),
});
type CacheFile = z.infer<typeof CacheFile>;

export interface ResolveOptions {
  docker: string;
  baseImage: string;
  /** Stable identity of the base (its digest or image id): the cache key. */
  baseKey: string;
  packages: readonly string[];
  cacheFile: string;
  /** Ask the archive again even when the cache has every package (after an install failed). */
  force?: boolean;
  log: (line: string) => void;
}

/** Parses `apt-cache policy` output into package → candidate version. */
export function parseAptPolicy(output: string): Record<string, string> {
  const result: Record<string, string> = {};
  let current: string | undefined;
  for (const line of output.split("\n")) {
    const header = /^(\S+):$/.exec(line);
    if (header) {
      current = header[1];
      continue;
    }
    const candidate = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (candidate && current && candidate[1] !== "(none)") result[current] = candidate[1]!;
  }
  return result;
}

async function readCache(file: string): Promise<CacheFile> {
  try {
    return CacheFile.parse(JSON.parse(await readFile(file, "utf8")));
  } catch {
    // Missing or unreadable: it is only a cache, start a new one.
    return { version: 1, bases: {} };
  }
}

export async function resolveDebianVersions(options: ResolveOptions): Promise<Record<string, string>> {
  const cache = await readCache(options.cacheFile);
  const cached = cache.bases[options.baseKey];
  if (!options.force && cached && options.packages.every((p) => cached.packages[p])) {
    return Object.fromEntries(options.packages.map((p) => [p, cached.packages[p]!]));
  }

  const started = Date.now();
  options.log(`stand-ins: asking the base's apt sources for ${options.packages.join(", ")}`);
  const script = 'apt-get update -qq >/dev/null && apt-cache policy "$@"';
  const result = await runCommand(options.docker, [
    "run",
    "--rm",
    "--user",
    "0",
    options.baseImage,
    "sh",
    "-c",
    script,
    "sh",
    ...options.packages,
  ]);
  if (result.code !== 0) {
    throw new StandInBuildError("could not read package versions from the lab base's apt sources", {
      context: { image: options.baseImage, exitCode: result.code },
      logTail: result.outputTail,
      hint: "the base image must have working apt sources and the Debian archive must be reachable from containers",
    });
  }
  const versions = parseAptPolicy(result.stdout);
  const missing = options.packages.filter((p) => !versions[p]);
  if (missing.length > 0) {
    throw new StandInBuildError(`the lab base's apt sources offer no candidate for ${missing.join(", ")}`, {
      context: { image: options.baseImage },
      logTail: result.outputTail,
      hint: "the stand-ins need Debian bookworm main in the base image's sources.list",
    });
  }
  cache.bases[options.baseKey] = { resolvedAt: new Date().toISOString(), packages: versions };
  await mkdir(dirname(options.cacheFile), { recursive: true });
  const temporary = `${options.cacheFile}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(cache, null, 2)}\n`);
  await rename(temporary, options.cacheFile);
  options.log(
    `stand-ins: resolved ${Object.entries(versions)
      .map(([p, v]) => `${p}=${v}`)
      .join(" ")} in ${((Date.now() - started) / 1000).toFixed(1)}s`,
  );
  return versions;
}
