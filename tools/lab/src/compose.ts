// Step 2: `docker compose` (v2) for both docker clients on this machine.
//
// Preferred: the real Compose v2, built from the Go module proxy through the pinned wrapper module in
// tools/lab/compose/ (go.mod pins github.com/docker/compose/v2; main.go repeats compose's plugin entry point).
// Go's caches live in the lab state dir, so the build runs once per machine; later runs find the binary.
// Fallback, when no Go toolchain new enough exists: Debian's docker-compose v1 behind a shim plugin. What differs
// with v1: container names use "_" (project_service_1), no `--wait`, no `docker compose ls`, older compose-file
// support; suites that rely on v2 behaviour say so. lab.json records which one is in use.
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { chmod, copyFile, mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ensurePackages, isRoot } from "./apt.js";
import { CommandFailedError, ComposeUnavailableError, formatError, tail } from "./errors.js";
import { run, safeRead, which } from "./exec.js";
import { findGo, goCacheDir, goEnvironment } from "./go.js";
import type { Log, StepOutcome } from "./progress.js";

export const COMPOSE_MODULE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "compose");

/** Where both clients look for CLI plugins (docker/cli's defaults); the lab installs into the first. */
export const SYSTEM_PLUGIN_DIRS = ["/usr/local/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"];
/** Every directory docker/cli searches, in its order (the user's first); a docker-compose in any of them may win. */
const ALL_PLUGIN_DIRS = () => [
  join(process.env["HOME"] ?? "/root", ".docker", "cli-plugins"),
  "/usr/local/lib/docker/cli-plugins",
  "/usr/local/libexec/docker/cli-plugins",
  "/usr/lib/docker/cli-plugins",
  "/usr/libexec/docker/cli-plugins",
];

/** Other docker-compose plugins on the machine besides `ours`: they could shadow it for one of the clients. */
export function otherComposePlugins(ours: string): string[] {
  return ALL_PLUGIN_DIRS()
    .map((dir) => join(dir, "docker-compose"))
    .filter((path) => path !== ours && existsSync(path));
}

export interface ComposeInfo {
  kind: "v2-plugin" | "v1-shim";
  version: string;
  plugin: string;
  buildSeconds?: number;
  notes: string;
}

const V2_NOTES =
  "Docker Compose v2 built from the Go module proxy (tools/lab/compose, pinned in go.mod); same program as Docker's release, without buildx (builds use the daemon's builder, not bake)";
const V1_NOTES =
  "Debian's docker-compose v1 behind a `docker compose` shim: container names use '_' (project_service_1), no --wait, no `compose ls`; prefer v2 (needs Go >= the version in tools/lab/compose/go.mod)";

/** The compose version pinned in the wrapper module's go.mod, e.g. "v2.40.3". */
export function pinnedComposeVersion(moduleDir = COMPOSE_MODULE_DIR): string {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const match = /github\.com\/docker\/compose\/v\d+\s+(v\d+\.\d+\.\d+\S*)/.exec(goMod);
  if (!match) throw new ComposeUnavailableError(`cannot find the pinned compose version in ${moduleDir}/go.mod`);
  return match[1]!;
}

/** The `go` directive of the wrapper module: the oldest Go that can build it. */
export function requiredGoVersion(moduleDir = COMPOSE_MODULE_DIR): string {
  const match = /^go\s+(\d+\.\d+(?:\.\d+)?)/m.exec(readFileSync(join(moduleDir, "go.mod"), "utf8"));
  return match?.[1] ?? "1.0";
}

/** Compares dotted versions numerically ("1.26.0" >= "1.24.9"). */
export function versionAtLeast(actual: string, required: string): boolean {
  const a = actual.split(".").map((part) => Number.parseInt(part, 10) || 0);
  const r = required.split(".").map((part) => Number.parseInt(part, 10) || 0);
  for (let i = 0; i < Math.max(a.length, r.length); i++) {
    const difference = (a[i] ?? 0) - (r[i] ?? 0);
    if (difference !== 0) return difference > 0;
  }
  return true;
}

/** The plugin directory the lab installs into: the system one when writable, else the user's. */
function pluginInstallDir(): string {
  const system = SYSTEM_PLUGIN_DIRS[0]!;
  if (isRoot()) return system;
  try {
    accessSync(system, constants.W_OK);
    return system;
  } catch {
    return join(process.env["HOME"] ?? "/root", ".docker", "cli-plugins");
  }
}

/** What `<client> compose version --short` says, or undefined when compose does not answer. */
export async function composeVersionFor(client: string): Promise<string | undefined> {
  const result = await run(client, ["compose", "version", "--short"], { timeoutMs: 20_000 }).catch(() => undefined);
  const version = result?.stdout.trim();
  return result && result.code === 0 && version ? version.replace(/^v/, "") : undefined;
}

/** Every docker client on this machine that must find the plugin: Debian's and whatever `docker` is on PATH. */
function dockerClients(preferred: string): string[] {
  const onPath = which("docker");
  return [...new Set([preferred, ...(onPath ? [onPath] : [])])];
}

const sourceHash = (moduleDir: string) =>
  createHash("sha256")
    .update(["go.mod", "go.sum", "main.go"].map((file) => safeRead(join(moduleDir, file))).join("\0"))
    .digest("hex")
    .slice(0, 16);

/** Builds the wrapper module once per source hash; returns the binary and how long the build took (0 if cached). */
async function buildComposeV2(
  go: string,
  version: string,
  stateDir: string,
  log: Log,
): Promise<{ binary: string; seconds: number; cached: boolean }> {
  const outDir = join(stateDir, "compose");
  await mkdir(outDir, { recursive: true });
  const binary = join(outDir, `docker-compose-${version}-${sourceHash(COMPOSE_MODULE_DIR)}`);
  if (existsSync(binary)) return { binary, seconds: 0, cached: true };
  const logFile = join(outDir, "build.log");
  const env = goEnvironment(stateDir);
  const ldflags = `-s -w -X main.composeVersion=${version} -X github.com/docker/compose/v2/internal.Version=${version}`;
  log(
    `building Docker Compose ${version} from the Go module proxy (cached in ${goCacheDir(stateDir)}; log: ${logFile})`,
  );
  const started = Date.now();
  const heartbeat = setInterval(
    () => log(`still building compose (${Math.round((Date.now() - started) / 1000)}s)`),
    30_000,
  );
  try {
    const temporary = `${binary}.tmp`;
    const result = await run(go, ["build", "-trimpath", "-ldflags", ldflags, "-o", temporary, "."], {
      cwd: COMPOSE_MODULE_DIR,
      env,
      logFile,
    });
    if (result.code !== 0) {
      throw new CommandFailedError(`building Docker Compose ${version} failed (exit ${result.code})`, {
        context: { module: COMPOSE_MODULE_DIR, log: logFile },
        logTail: tail(safeRead(logFile)),
        hint: "check access to the Go module proxy (GOPROXY) and the Go version; the lab falls back to docker-compose v1",
      });
    }
    await rename(temporary, binary);
  } finally {
    clearInterval(heartbeat);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  await writeFile(join(outDir, "build.json"), JSON.stringify({ version, seconds, binary }, null, 2));
  return { binary, seconds, cached: false };
}

/** Installs a file as the docker-compose plugin (atomically, so a running `docker compose` is not disturbed). */
async function installPlugin(source: string | { script: string }): Promise<string> {
  const dir = pluginInstallDir();
  await mkdir(dir, { recursive: true });
  const target = join(dir, "docker-compose");
  const temporary = `${target}.lab-tmp`;
  if (typeof source === "string") await copyFile(source, temporary);
  else await writeFile(temporary, source.script);
  await chmod(temporary, 0o755);
  await rename(temporary, target);
  return target;
}

function previousBuildSeconds(stateDir: string): number | undefined {
  try {
    const seconds = JSON.parse(readFileSync(join(stateDir, "compose", "build.json"), "utf8")).seconds;
    return typeof seconds === "number" ? seconds : undefined;
  } catch {
    return undefined;
  }
}

/** Fails unless every client on the machine runs `docker compose` at the expected version. */
async function verifyClients(clients: string[], expected: string, plugin: string): Promise<void> {
  for (const client of clients) {
    const found = await composeVersionFor(client);
    if (found !== expected) {
      throw new ComposeUnavailableError(`\`${client} compose\` does not run the compose the lab installed`, {
        context: { client, expected, found: found ?? "no answer", plugin },
        hint: `another docker-compose plugin shadows ${plugin}; remove it or check \`${client} info --format '{{json .ClientInfo.Plugins}}'\``,
      });
    }
  }
}

/** The v1 shim: answers the CLI-plugin metadata call, then runs Debian's docker-compose without the "compose" word. */
export function v1ShimScript(v1Version: string): string {
  return [
    "#!/bin/sh",
    "# e2e3d lab: `docker compose` shim for Debian's docker-compose v1 (see tools/lab/src/compose.ts for what differs).",
    'if [ "$1" = docker-cli-plugin-metadata ]; then',
    `  echo '{"SchemaVersion":"0.1.0","Vendor":"e2e3d lab (shim for Debian docker-compose v1)","Version":"${v1Version}","ShortDescription":"Docker Compose v1 behind a shim"}'`,
    "  exit 0",
    "fi",
    "shift",
    'exec /usr/bin/docker-compose "$@"',
    "",
  ].join("\n");
}

export async function ensureCompose(
  dockerClient: string,
  stateDir: string,
  log: Log,
): Promise<StepOutcome<ComposeInfo>> {
  const pinned = pinnedComposeVersion();
  const expected = pinned.replace(/^v/, "");
  const clients = dockerClients(dockerClient);
  const plugin = join(pluginInstallDir(), "docker-compose");

  // Cheap path: the pinned compose already answers for every client.
  const others = otherComposePlugins(plugin);
  if (others.length)
    log(`other docker-compose plugins found (checked below that they do not shadow ${plugin}): ${others.join(", ")}`);
  const current = await Promise.all(clients.map((client) => composeVersionFor(client)));
  if (current.every((version) => version === expected)) {
    const buildSeconds = previousBuildSeconds(stateDir);
    return {
      value: { kind: "v2-plugin", version: pinned, plugin, ...(buildSeconds ? { buildSeconds } : {}), notes: V2_NOTES },
      changed: false,
      detail: `docker compose ${pinned} answers for ${clients.join(" and ")}`,
    };
  }

  const go = findGo();
  const goVersion = go ? (await run(go, ["env", "GOVERSION"])).stdout.trim().replace(/^go/, "") : undefined;
  const needed = requiredGoVersion();
  let why = `no Go >= ${needed} here (found ${goVersion ?? "none"})`;
  if (go && goVersion && versionAtLeast(goVersion, needed)) {
    try {
      const built = await buildComposeV2(go, pinned, stateDir, log);
      const installed = await installPlugin(built.binary);
      await verifyClients(clients, expected, installed);
      const buildSeconds = built.cached ? previousBuildSeconds(stateDir) : built.seconds;
      return {
        value: {
          kind: "v2-plugin",
          version: pinned,
          plugin: installed,
          ...(buildSeconds ? { buildSeconds } : {}),
          notes: V2_NOTES,
        },
        changed: true,
        detail: `${built.cached ? "installed cached" : `built (${built.seconds}s) and installed`} compose ${pinned} as ${installed}`,
      };
    } catch (error) {
      // The build can fail without the proxy or with a broken cache: v1 behind the shim still lets the lab work.
      if (!(error instanceof CommandFailedError)) throw error;
      log(formatError(error));
      why = `building compose ${pinned} failed`;
    }
  }

  log(`${why}: falling back to Debian's docker-compose v1 behind a shim`);
  await ensurePackages(["docker-compose"], stateDir, log);
  const v1 = (await run("/usr/bin/docker-compose", ["version", "--short"])).stdout.trim();
  const installed = await installPlugin({ script: v1ShimScript(v1) });
  for (const client of clients) {
    const result = await run(client, ["compose", "version", "--short"]);
    if (result.code !== 0) {
      throw new ComposeUnavailableError(`\`${client} compose\` does not work through the v1 shim`, {
        context: { client, plugin: installed },
        logTail: tail(`${result.stdout}\n${result.stderr}`),
      });
    }
  }
  return {
    value: { kind: "v1-shim", version: v1, plugin: installed, notes: `${V1_NOTES} (why: ${why})` },
    changed: true,
    detail: `docker-compose ${v1} (v1) installed behind the shim ${installed}`,
  };
}
