// Installing Debian packages the lab needs (docker.io, docker-registry, skopeo, debootstrap, docker-compose).
// Only as root on Debian; elsewhere the lab says exactly what to install. Other people may run apt at the same
// time, so apt waits for the dpkg lock instead of failing.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CommandFailedError, MissingPackageError, tail } from "./errors.js";
import { run, safeRead } from "./exec.js";
import type { Log } from "./progress.js";

export const isRoot = (): boolean => process.getuid?.() === 0;

export function isDebian(): boolean {
  if (existsSync("/etc/debian_version")) return true;
  try {
    return /^ID(_LIKE)?=.*debian/m.test(readFileSync("/etc/os-release", "utf8"));
  } catch {
    return false;
  }
}

/** Which of `packages` dpkg does not report as installed. */
export async function missingPackages(packages: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of packages) {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: this is dpkg-query's format syntax, not a template
    const result = await run("dpkg-query", ["-W", "-f=${Status}", name]).catch(() => undefined);
    if (result?.code !== 0 || !result.stdout.includes("install ok installed")) missing.push(name);
  }
  return missing;
}

/**
 * Installs the missing ones with apt-get; returns what it installed. Not root or not Debian: a
 * MissingPackageError naming the packages and the command to run.
 */
export async function ensurePackages(packages: string[], stateDir: string, log: Log): Promise<string[]> {
  const missing = await missingPackages(packages);
  if (missing.length === 0) return [];
  const command = `apt-get install -y ${missing.join(" ")}`;
  if (!isRoot() || !isDebian()) {
    throw new MissingPackageError(`the lab needs Debian packages that are not installed: ${missing.join(", ")}`, {
      context: { root: isRoot() ? "yes" : "no", debian: isDebian() ? "yes" : "no" },
      hint: isDebian()
        ? `install them as root: sudo ${command}`
        : `install the equivalents of ${missing.join(", ")} for your system (the lab installs them itself only as root on Debian)`,
    });
  }
  const logFile = join(stateDir, "apt.log");
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const lock = ["-o", "DPkg::Lock::Timeout=900"];
  log(`installing ${missing.join(", ")} with apt-get (log: ${logFile})`);
  const install = () => run("apt-get", ["install", "-y", ...lock, ...missing], { env, logFile });
  let result = await install();
  if (result.code !== 0) {
    // A fresh machine often has stale or empty package lists: refresh once and retry.
    log("apt-get install failed; running apt-get update and retrying");
    await run("apt-get", ["update", ...lock], { env, logFile });
    result = await install();
  }
  if (result.code !== 0) {
    throw new CommandFailedError(`apt-get install ${missing.join(" ")} failed (exit ${result.code})`, {
      context: { log: logFile },
      logTail: tail(safeRead(logFile)),
      hint: "check that the Debian archive in /etc/apt/sources.list* is reachable and that dpkg is healthy (dpkg --configure -a)",
    });
  }
  return missing;
}
