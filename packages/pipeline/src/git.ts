// What the build needs from git: the commit (sha- tag), the branch (branch tag), the last commit time
// (SOURCE_DATE_EPOCH) and whether an image's inputs have uncommitted changes (then the sha-/branch tags would lie).
import { exec } from "./exec.js";
import type { Logger } from "./log/logger.js";

export interface GitInfo {
  commit: string | undefined;
  branch: string | undefined;
  /** Seconds since the epoch of the last commit that touched `paths` (the whole repo when empty). */
  commitTime(paths: string[]): Promise<number | undefined>;
  /** True when any of `paths` has staged, unstaged or untracked changes. */
  isDirty(paths: string[]): Promise<boolean>;
}

async function git(log: Logger, cwd: string, args: string[]): Promise<string | undefined> {
  const result = await exec(log, "git", args, { cwd, allowFailure: true });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

export async function readGitInfo(log: Logger, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<GitInfo> {
  const commit = env["GITHUB_SHA"] || (await git(log, cwd, ["rev-parse", "HEAD"]));
  // In Actions the checkout is detached: the ref name comes from the environment (head ref for pull requests).
  const fromActions = env["GITHUB_HEAD_REF"] || env["GITHUB_REF_NAME"];
  const branch = fromActions || (await git(log, cwd, ["symbolic-ref", "--short", "-q", "HEAD"])) || undefined;
  const inRepo = commit !== undefined;
  return {
    commit: commit || undefined,
    branch,
    async commitTime(paths) {
      if (!inRepo) return undefined;
      const out = await git(log, cwd, ["log", "-1", "--format=%ct", "--", ...paths]);
      return out ? Number(out) : undefined;
    },
    async isDirty(paths) {
      if (!inRepo) return false;
      const out = await git(log, cwd, ["status", "--porcelain", "--untracked-files=all", "--", ...paths]);
      return Boolean(out);
    },
  };
}
