// The skip policy shared by vitest (vitest-reporter.ts) and pytest (tools/skips/pytest_skips.py, which calls cli.ts):
// every skip of a run, as a record {runner, file, test, reason}, against the checked-in allow-list
// (tools/ci/allowed-skips.yaml). In CI a skip the list does not allow fails the run; outside CI skips are reported and
// allowed. A skip without a reason fails everywhere. One checker, so the two test runners cannot disagree.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const ALLOW_LIST_FILE = join(REPO_ROOT, "tools", "ci", "allowed-skips.yaml");
/** Where describeUnless appends suite skips for the reporter (set by vitest.config.ts for the whole run). */
export const SKIP_RECORDS_ENV = "E2E3D_SKIP_RECORDS";

/** One skipped test (or a whole suite, when `test` names a describe) and why. */
export interface SkipRecord {
  runner: "vitest" | "pytest";
  /** The test file, relative to the repository root. */
  file: string;
  /** The test's full name (vitest: "suite > test"; pytest: the node id). */
  test: string;
  reason: string;
}

export interface SkipErrorDetails {
  context?: Record<string, string | number | undefined>;
  hint?: string;
  cause?: unknown;
}

/** The allow-list or a records file cannot be read: what, where (context) and how to fix it (hint). */
export class SkipPolicyError extends Error {
  readonly context: Record<string, string | number | undefined>;
  readonly hint: string | undefined;

  constructor(message: string, details: SkipErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.context = details.context ?? {};
    this.hint = details.hint;
  }
}

export function formatSkipPolicyError(err: unknown): string {
  if (!(err instanceof SkipPolicyError)) return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const lines = [`error: ${err.message}`];
  for (const [k, v] of Object.entries(err.context)) if (v !== undefined) lines.push(`  ${k}: ${v}`);
  if (err.hint) lines.push(`  fix: ${err.hint}`);
  return lines.join("\n");
}

const Entry = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/, "lower-case words joined by -"),
    reason: z.string().trim().min(10, "say why CI may skip these tests"),
    files: z.array(z.string().min(1)).min(1),
    reason_pattern: z.string().min(1),
    unless_lab: z.string().min(1).optional(),
  })
  .strict();
const AllowFile = z.object({ allowed: z.array(Entry) }).strict();

export interface AllowEntry {
  id: string;
  reason: string;
  files: string[];
  reasonPattern: RegExp;
  unlessLab: string | undefined;
}

export function parseAllowList(text: string, file = ALLOW_LIST_FILE): AllowEntry[] {
  const where = relative(REPO_ROOT, file) || file;
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    throw new SkipPolicyError("the skip allow-list is not valid YAML", { context: { file: where }, cause });
  }
  const parsed = AllowFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new SkipPolicyError(`the skip allow-list is malformed: ${issue.message}`, {
      context: { file: where, at: issue.path.join(".") },
      hint: "each entry has id, reason, files, reason_pattern and optionally unless_lab (see the comment at the top)",
    });
  }
  const ids = new Set<string>();
  return parsed.data.allowed.map((e, index) => {
    if (ids.has(e.id)) throw new SkipPolicyError(`duplicate allow-list id ${e.id}`, { context: { file: where } });
    ids.add(e.id);
    let reasonPattern: RegExp;
    try {
      reasonPattern = new RegExp(e.reason_pattern);
    } catch (cause) {
      throw new SkipPolicyError(`allow-list entry ${e.id}: reason_pattern is not a regular expression`, {
        context: { file: where, at: `allowed.${index}.reason_pattern` },
        cause,
      });
    }
    return { id: e.id, reason: e.reason, files: e.files, reasonPattern, unlessLab: e.unless_lab };
  });
}

export function readAllowList(file = ALLOW_LIST_FILE): AllowEntry[] {
  if (!existsSync(file)) {
    throw new SkipPolicyError("the skip allow-list is missing", {
      context: { file },
      hint: "restore tools/ci/allowed-skips.yaml from git (an empty list is `allowed: []`)",
    });
  }
  return parseAllowList(readFileSync(file, "utf8"), file);
}

/** What the run knows about its environment: CI or not, and the lab's lab.json (for unless_lab). */
export interface SkipEnvironment {
  ci: boolean;
  lab: Record<string, unknown> | undefined;
}

/** GitHub Actions and most CI systems set CI=true; CI=false or CI=0 (or unset) is a developer's run. */
export const isCi = (env: NodeJS.ProcessEnv = process.env): boolean => {
  const value = env["CI"]?.trim().toLowerCase();
  return value !== undefined && value !== "" && value !== "false" && value !== "0";
};

export function labStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const home = env["E2E3D_LAB_HOME"]?.trim();
  return join(home || join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-lab"), "lab.json");
}

/** lab.json, or undefined when the lab was never brought up. An unreadable file is undefined too: it reports nothing. */
export function readLabState(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> | undefined {
  try {
    const json = JSON.parse(readFileSync(labStateFile(env), "utf8")) as unknown;
    return json && typeof json === "object" ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export const skipEnvironment = (env: NodeJS.ProcessEnv = process.env): SkipEnvironment => ({
  ci: isCi(env),
  lab: readLabState(env),
});

function labReports(lab: Record<string, unknown> | undefined, path: string): boolean {
  let value: unknown = lab;
  for (const key of path.split(".")) {
    if (!value || typeof value !== "object") return false;
    value = (value as Record<string, unknown>)[key];
  }
  return Boolean(value);
}

/** Reasons that say nothing: empty, or pytest's default for a bare @pytest.mark.skip. */
export const hasReason = (reason: string | undefined): reason is string =>
  reason !== undefined && reason.trim() !== "" && reason.trim() !== "unconditional skip";

export interface SkipVerdict {
  record: SkipRecord;
  /** The allow-list entry that allows it in CI, if any. */
  allowedBy: string | undefined;
  /** Why CI refuses it (undefined when allowed). */
  refusal: string | undefined;
}

export interface SkipCheck {
  ci: boolean;
  verdicts: SkipVerdict[];
  /** The skips that fail this run: reasonless ones always, unlisted ones in CI. */
  failures: SkipVerdict[];
}

export function judgeSkip(record: SkipRecord, allowList: AllowEntry[], environment: SkipEnvironment): SkipVerdict {
  if (!hasReason(record.reason)) {
    return {
      record,
      allowedBy: undefined,
      refusal:
        "skipped without a reason: skip through tools/skips (describeUnless/skipTest) or pytest.skip(reason=...)",
    };
  }
  const candidates = allowList.filter((e) => e.files.includes(record.file));
  const matching = candidates.filter((e) => e.reasonPattern.test(record.reason));
  const live = matching.find((e) => !(e.unlessLab && labReports(environment.lab, e.unlessLab)));
  if (live) return { record, allowedBy: live.id, refusal: undefined };
  const revoked = matching[0];
  const refusal = revoked
    ? `allowed by ${revoked.id} only while the lab does not report \`${revoked.unlessLab}\`, and it does: the lab has what this test needs, so it must run`
    : candidates.length > 0
      ? `the reason matches none of the reason patterns allowed for this file (${candidates.map((e) => `${e.id}: /${e.reasonPattern.source}/`).join(", ")})`
      : "no entry of tools/ci/allowed-skips.yaml allows skips in this file";
  return { record, allowedBy: undefined, refusal };
}

export function checkSkips(
  records: SkipRecord[],
  allowList: AllowEntry[],
  environment: SkipEnvironment = skipEnvironment(),
): SkipCheck {
  const verdicts = records.map((r) => judgeSkip(r, allowList, environment));
  const failures = verdicts.filter((v) => v.refusal && (environment.ci || !hasReason(v.record.reason)));
  return { ci: environment.ci, verdicts, failures };
}

/**
 * The lines a run prints: every skip with its reason (grouped per file and reason, so a skipped suite is one line),
 * marked allowed or refused, and what to do when something is refused. Empty when nothing was skipped.
 */
export function formatSkipCheck(check: SkipCheck, runner: string): string {
  if (check.verdicts.length === 0) return "";
  const groups = new Map<string, { verdict: SkipVerdict; tests: string[] }>();
  for (const v of check.verdicts) {
    const key = `${v.record.file}\u0000${v.record.reason}\u0000${v.allowedBy ?? ""}\u0000${v.refusal ?? ""}`;
    const group = groups.get(key) ?? { verdict: v, tests: [] };
    group.tests.push(v.record.test);
    groups.set(key, group);
  }
  const failing = new Set(check.failures);
  const lines = [
    `${runner} skips (${check.verdicts.length}; ${check.ci ? "CI: only tools/ci/allowed-skips.yaml is accepted" : "not CI: reported, not enforced"}):`,
  ];
  for (const { verdict, tests } of groups.values()) {
    const mark = failing.has(verdict)
      ? "REFUSED"
      : verdict.allowedBy
        ? `allowed (${verdict.allowedBy})`
        : "not allowed in CI";
    const which = tests.length === 1 ? tests[0] : `${tests.length} tests (${tests[0]}, …)`;
    lines.push(`  ${mark}: ${verdict.record.file}: ${which}`);
    lines.push(`    reason: ${verdict.record.reason.trim() || "(none)"}`);
    if (verdict.refusal && (failing.has(verdict) || !check.ci)) lines.push(`    refused because: ${verdict.refusal}`);
  }
  if (check.failures.length > 0) {
    lines.push(
      `error: ${check.failures.length} skip(s) refused; make the test run here (bring the lab up: npx tsx tools/lab/src/cli.ts up), or, when CI genuinely cannot run it, add an entry with its reason to tools/ci/allowed-skips.yaml`,
    );
  }
  return lines.join("\n");
}

/** Records from a JSON-lines file (one record a line); a missing file is no records. */
export function readRecords(file: string): SkipRecord[] {
  if (!existsSync(file)) return [];
  const Record = z.object({
    runner: z.enum(["vitest", "pytest"]),
    file: z.string(),
    test: z.string(),
    reason: z.string(),
  });
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((line, i) => {
      try {
        return Record.parse(JSON.parse(line));
      } catch (cause) {
        throw new SkipPolicyError("a skip record is malformed", { context: { file, line: i + 1 }, cause });
      }
    });
}

/** A test file's path as the allow-list names it: relative to the repository root, with forward slashes. */
export const repoPath = (file: string): string => relative(REPO_ROOT, resolve(file)).split("\\").join("/");
