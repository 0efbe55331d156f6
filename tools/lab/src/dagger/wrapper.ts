// The lab's `dagger` command: a small script in front of the built CLI that sets what the lab's engine needs unless
// the caller set it: the container:// runner host (the CLI must attach to the lab's container, never start its own
// with --privileged), plain progress (the lab's build has no interactive TUI, see build.ts), and no calls home
// (dagger.cloud and update checks are unreachable here and would only add waits).
import { lstat, mkdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Log } from "../progress.js";

/** Where the lab links its `dagger` when it runs as root, so `dagger run …` and `--engine auto` find it. */
export const SYSTEM_LINK = "/usr/local/bin/dagger";

export function wrapperScript(cli: string, runnerHost: string): string {
  const defaults: [string, string][] = [
    ["_EXPERIMENTAL_DAGGER_RUNNER_HOST", runnerHost],
    ["DAGGER_PROGRESS", "plain"],
    ["DAGGER_NO_NAG", "1"],
    ["DAGGER_NO_UPDATE_CHECK", "1"],
    ["DO_NOT_TRACK", "1"],
  ];
  return [
    "#!/bin/sh",
    "# Written by the e2e3d lab (tools/lab/src/dagger/wrapper.ts): the lab's Dagger CLI attached to the lab's engine.",
    ...defaults.map(([name, value]) => `: "\${${name}:=${value}}"`),
    `export ${defaults.map(([name]) => name).join(" ")}`,
    `exec ${JSON.stringify(cli)} "$@"`,
    "",
  ].join("\n");
}

export interface InstalledCli {
  /** The wrapper: <state>/dagger/bin/dagger. */
  wrapper: string;
  /** SYSTEM_LINK when the lab linked it there, otherwise undefined (and `note` says what to add to PATH). */
  linked?: string;
  note: string;
}

export async function installWrapper(
  stateDir: string,
  cli: string,
  runnerHost: string,
  log: Log,
): Promise<InstalledCli> {
  const binDir = join(stateDir, "dagger", "bin");
  await mkdir(binDir, { recursive: true });
  const wrapper = join(binDir, "dagger");
  const temporary = `${wrapper}.lab-tmp`;
  await writeFile(temporary, wrapperScript(cli, runnerHost), { mode: 0o755 });
  await rename(temporary, wrapper);
  if (process.getuid?.() !== 0) {
    return { wrapper, note: `add ${binDir} to PATH to use the lab's dagger (not root: ${SYSTEM_LINK} left alone)` };
  }
  const existing = await lstat(SYSTEM_LINK).catch(() => undefined);
  if (existing && !(existing.isSymbolicLink() && (await readlink(SYSTEM_LINK)) === wrapper)) {
    // Someone else's dagger: never replaced. The lab's is still reachable through its own bin dir.
    log(`${SYSTEM_LINK} exists and is not the lab's: left alone; the lab's CLI is ${wrapper}`);
    return { wrapper, note: `${SYSTEM_LINK} is not the lab's; put ${binDir} first on PATH to use the lab's engine` };
  }
  if (!existing) {
    const link = `${SYSTEM_LINK}.lab-tmp`;
    await rm(link, { force: true });
    await symlink(wrapper, link);
    await rename(link, SYSTEM_LINK);
  }
  return { wrapper, linked: SYSTEM_LINK, note: `${SYSTEM_LINK} → ${wrapper}` };
}
