// Step 4: the Debian bookworm base image, the lab's stand-in for docker.io/library/debian:bookworm.
// Made with `debootstrap --variant=minbase` from the Debian mirror apt already uses, imported into the engine,
// pushed to the lab upstream under the real repository path with two tags: the suite and the true point release
// inside (e.g. 12.12, read from the rootfs). Skipped when both tags are already there and agree.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { isRoot } from "./apt.js";
import { BASE_REPOSITORY, BASE_SUITE } from "./config.js";
import { CommandFailedError, LabError } from "./errors.js";
import { runChecked } from "./exec.js";
import type { Log, StepOutcome } from "./progress.js";
import { imageLabels, manifestDigest } from "./registry-http.js";

export const STAND_IN_LABEL = "dev.e2e3d.lab.stand-in";
const VERSION_LABEL = "org.opencontainers.image.version";
const FALLBACK_MIRROR = "http://deb.debian.org/debian";

export interface BaseImageInfo {
  repository: string;
  tags: string[];
  digest: string;
  reference: string;
  debianVersion: string;
}

interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
}

/** Parses deb822 `.sources` text (the format Debian 12 uses) into its stanzas. */
export function parseDeb822Sources(text: string): AptSource[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const fields = new Map<string, string>();
      for (const line of stanza.split("\n")) {
        const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
        if (match && !line.startsWith("#")) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
      }
      const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter(Boolean);
      const enabled = (fields.get("enabled") ?? "yes").toLowerCase() !== "no";
      return enabled ? { types: words("types"), uris: words("uris"), suites: words("suites") } : undefined;
    })
    .filter((source): source is AptSource => source !== undefined && source.uris.length > 0);
}

/** Parses one-line `.list` text: `deb [options] uri suite components...`. */
export function parseOneLineSources(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw
      .replace(/#.*/, "")
      .replace(/\[[^\]]*\]/, "")
      .trim();
    const [type, uri, suite] = line.split(/\s+/);
    if (type && uri && suite) sources.push({ types: [type], uris: [uri], suites: [suite] });
  }
  return sources;
}

/** The mirror apt uses for `suite` (a `deb` entry listing it), or undefined. */
export function pickMirror(sources: AptSource[], suite: string): string | undefined {
  const match = sources.find((source) => source.types.includes("deb") && source.suites.includes(suite));
  return match?.uris[0]?.replace(/\/+$/, "");
}

/** Reads apt's own sources (only files apt reads: sources.list, *.list, *.sources). */
export function aptMirror(suite = BASE_SUITE, root = "/etc/apt"): string | undefined {
  const sources: AptSource[] = [];
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch {
      return "";
    }
  };
  sources.push(...parseOneLineSources(read(join(root, "sources.list"))));
  let entries: string[] = [];
  try {
    entries = readdirSync(join(root, "sources.list.d")).sort();
  } catch {
    // no sources.list.d
  }
  for (const entry of entries) {
    const path = join(root, "sources.list.d", entry);
    if (entry.endsWith(".sources")) sources.push(...parseDeb822Sources(read(path)));
    else if (entry.endsWith(".list")) sources.push(...parseOneLineSources(read(path)));
  }
  return pickMirror(sources, suite);
}

/** The cheap check: both tags present, the same digest, and the version tag is the one the image says it holds. */
async function existingBase(upstreamUrl: string, upstream: string): Promise<BaseImageInfo | undefined> {
  const digest = await manifestDigest(upstreamUrl, BASE_REPOSITORY, BASE_SUITE);
  if (!digest) return undefined;
  const labels = await imageLabels(upstreamUrl, BASE_REPOSITORY, digest);
  const version = labels?.[VERSION_LABEL];
  if (!version || labels?.[STAND_IN_LABEL] !== "true") return undefined;
  if ((await manifestDigest(upstreamUrl, BASE_REPOSITORY, version)) !== digest) return undefined;
  return describe(upstream, version, digest);
}

function describe(upstream: string, version: string, digest: string): BaseImageInfo {
  const repository = `${upstream}/${BASE_REPOSITORY}`;
  return {
    repository,
    tags: [BASE_SUITE, version],
    digest,
    reference: `${repository}@${digest}`,
    debianVersion: version,
  };
}

export async function ensureBaseImage(
  docker: string,
  stateDir: string,
  upstream: string,
  log: Log,
): Promise<StepOutcome<BaseImageInfo>> {
  const upstreamUrl = `http://${upstream}`;
  const existing = await existingBase(upstreamUrl, upstream);
  if (existing) {
    return {
      value: existing,
      changed: false,
      detail: `${existing.repository}:${BASE_SUITE} (${existing.debianVersion}) already in the upstream, ${existing.digest.slice(0, 19)}…`,
    };
  }
  if (!isRoot()) {
    throw new LabError("making the base image needs root (debootstrap creates device nodes and chowns files)", {
      hint: "run `npx tsx tools/lab/src/cli.ts up` as root once; later runs only check the image",
    });
  }

  const workDir = join(stateDir, "base");
  const rootfs = join(workDir, "rootfs");
  const tarball = join(workDir, "rootfs.tar");
  const logFile = join(workDir, "debootstrap.log");
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  const mirror = aptMirror() ?? FALLBACK_MIRROR;

  try {
    log(`debootstrap --variant=minbase ${BASE_SUITE} from ${mirror} (log: ${logFile})`);
    await runChecked("debootstrap", ["--variant=minbase", BASE_SUITE, rootfs, mirror], {
      logFile,
      what: "debootstrap",
      hint: `check that ${mirror} is reachable and that there is free disk space in ${workDir}`,
    });
    const version = (await readFile(join(rootfs, "etc", "debian_version"), "utf8")).trim();
    if (!/^\d+(\.\d+)*$/.test(version)) {
      throw new CommandFailedError(`the new rootfs reports an unexpected Debian version "${version}"`, {
        context: { file: join(rootfs, "etc", "debian_version") },
      });
    }
    log(`rootfs holds Debian ${version}; importing it into the engine`);
    await runChecked("tar", ["--numeric-owner", "--xattrs", "-C", rootfs, "-cf", tarball, "."], {
      what: "tar of the rootfs",
    });
    const created = new Date().toISOString();
    const labels: Record<string, string> = {
      [STAND_IN_LABEL]: "true",
      "dev.e2e3d.lab.stand-in-for": `${BASE_REPOSITORY}:${BASE_SUITE}`,
      "org.opencontainers.image.title": "debian",
      "org.opencontainers.image.description": `e2e3d lab stand-in for ${BASE_REPOSITORY}:${BASE_SUITE}: debootstrap --variant=minbase from ${mirror}`,
      [VERSION_LABEL]: version,
      "org.opencontainers.image.created": created,
    };
    const changes = [
      `LABEL ${Object.entries(labels)
        .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
        .join(" ")}`,
      "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      'CMD ["bash"]',
    ];
    const repository = `${upstream}/${BASE_REPOSITORY}`;
    await runChecked(
      docker,
      ["import", ...changes.flatMap((change) => ["--change", change]), tarball, `${repository}:${BASE_SUITE}`],
      { what: "docker import of the base rootfs" },
    );
    await runChecked(docker, ["tag", `${repository}:${BASE_SUITE}`, `${repository}:${version}`], {
      what: "docker tag",
    });
    for (const tag of [BASE_SUITE, version]) {
      log(`pushing ${repository}:${tag}`);
      await runChecked(docker, ["push", `${repository}:${tag}`], { what: `docker push ${repository}:${tag}` });
    }
    const digest = await manifestDigest(upstreamUrl, BASE_REPOSITORY, BASE_SUITE);
    const versionDigest = await manifestDigest(upstreamUrl, BASE_REPOSITORY, version);
    if (!digest || digest !== versionDigest) {
      throw new CommandFailedError("the pushed base image tags do not point at one digest", {
        context: { [BASE_SUITE]: digest ?? "missing", [version]: versionDigest ?? "missing", registry: upstream },
        hint: "run `up` again; if it persists, delete the registry data under the lab state dir",
      });
    }
    const info = describe(upstream, version, digest);
    return { value: info, changed: true, detail: `built and pushed Debian ${version} as ${info.reference}` };
  } finally {
    // The rootfs and its tarball are only needed for the import; keep the debootstrap log.
    await rm(rootfs, { recursive: true, force: true });
    await rm(tarball, { force: true });
  }
}
