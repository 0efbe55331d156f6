// The release gate: a release tag may only ever point at digests that passed the integration suites. It reads the
// build report (what ci built and pushed) and the test report (what the suites ran against and how they ended), and
// either returns the promotion plan or refuses with every reason at once.
import { readFileSync } from "node:fs";
import { BuildReport as FullBuildReport, BuiltImage as FullBuiltImage, type TestReport } from "@e2e3d/pipeline";
import { z } from "zod";
import { PromotionRefusedError, ReportError } from "./errors.js";

/**
 * The build report (pipelines/build.ts owns its schema), as far as the gate needs it: the fields it reads keep the
 * build's own types; every other field is optional, so a report trimmed for a test or written by an older build still
 * parses.
 */
export const BuildImage = FullBuiltImage.pick({ name: true, reference: true })
  .extend({ tags: FullBuiltImage.shape.tags.default([]) })
  .extend(FullBuiltImage.pick({ inputDigest: true }).partial().shape)
  .loose();
export type BuildImage = z.infer<typeof BuildImage>;
export const BuildReport = FullBuildReport.pick({ commit: true })
  .extend(FullBuildReport.pick({ status: true, failures: true }).partial().shape)
  .extend({ images: z.array(BuildImage).min(1, "a build report must list at least one image") })
  .loose();
export type BuildReport = z.infer<typeof BuildReport>;

/** Reads and validates a JSON report; every failure names the file and what to do. */
export function readReport<S extends z.ZodType>(path: string, schema: S, what: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ReportError(`cannot read the ${what}`, {
      context: { file: path },
      hint: `check that the step that writes the ${what} ran and its artifact was downloaded`,
      cause: err,
    });
  }
  return parseReport(text, path, schema, what);
}

export function parseReport<S extends z.ZodType>(text: string, source: string, schema: S, what: string): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ReportError(`the ${what} is not JSON`, { context: { file: source }, cause: err });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new ReportError(`the ${what} is not valid: ${issues}`, { context: { file: source } });
  }
  return parsed.data;
}

/** Release versions are `v<major>.<minor>.<patch>` with an optional pre-release, e.g. v1.2.3 or v1.3.0-rc.1. */
const VERSION = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$/;

/** `repo:tag@sha256:…` → `repo@sha256:…`: the tag is a label, repository and digest are the identity. */
export function canonicalDigestReference(reference: string): string {
  const at = reference.lastIndexOf("@");
  const repo = reference.slice(0, at);
  const slash = repo.lastIndexOf("/");
  const colon = repo.lastIndexOf(":");
  return `${colon > slash ? repo.slice(0, colon) : repo}${reference.slice(at)}`;
}

export interface PlannedImage {
  name: string;
  /** `<registry>/<repository>@sha256:…`, exactly as built and tested. */
  source: string;
  repository: string;
  digest: string;
  /** Release tags to point at `digest` in `repository`. */
  tags: string[];
}

export interface PromotionPlan {
  version: string;
  commit: string;
  images: PlannedImage[];
}

export interface GateInput {
  build: BuildReport;
  /**
   * Every test report of the commit: ci's suites, and the GPU suite's when the build has a GPU image (no hosted runner
   * has a GPU, so that suite runs on its own runner). A digest is tested when a passed report names it.
   */
  tests: TestReport[];
  /** The release version (the git tag), e.g. v1.2.3. */
  version: string;
  /** The commit the release tag points at; both reports must be of this commit. */
  commit: string;
  /** More tags to point at the same digests (the version is always one). */
  extraTags?: string[];
}

const sameCommit = (a: string, b: string) => a.length >= 7 && b.length >= 7 && (a.startsWith(b) || b.startsWith(a));

/**
 * Decides whether the built digests may be promoted. Refuses, listing every reason, unless: every test report passed
 * with no failed suite and is of the released commit, the build did not fail (and is of that commit, when it names
 * one), and every image digest of the build report is among the digests the reports tested.
 */
export function planPromotion(input: GateInput): PromotionPlan {
  const { build, tests, version, commit } = input;
  const reasons: string[] = [];
  if (!VERSION.test(version))
    reasons.push(`"${version}" is not a release version: expected v<major>.<minor>.<patch>[-pre]`);
  if (!/^[0-9a-f]{7,40}$/.test(commit)) reasons.push(`"${commit}" is not a git commit SHA`);

  const buildFailures = build.failures ?? [];
  if (build.status === "failed" || buildFailures.length > 0) {
    const detail = buildFailures.map((f) => `${f.name}: ${f.message}`).join("; ");
    reasons.push(`the build report says the build failed${detail ? ` (${detail})` : ""}`);
  }
  if (tests.length === 0) reasons.push("no test report was given: the gate promotes only what the suites tested");
  for (const test of tests) {
    const which = tests.length > 1 ? ` of ${test.suites.map((s) => s.name).join(", ")}` : "";
    const failed = test.suites.filter((s) => s.outcome === "failed");
    if (test.outcome !== "passed" || failed.length > 0) {
      const detail = failed.map((s) => `${s.name} failed${s.reason ? ` (${s.reason})` : ""}`).join("; ");
      reasons.push(
        `the integration suites${which} did not pass (outcome "${test.outcome}"${detail ? `: ${detail}` : ""})`,
      );
    }
    if (!sameCommit(test.commit, commit)) {
      reasons.push(`the test report${which} is of commit ${test.commit}, but the release is of commit ${commit}`);
    }
  }
  if (build.commit !== undefined && !sameCommit(build.commit, commit)) {
    reasons.push(`the build report is of commit ${build.commit}, but the release is of commit ${commit}`);
  }

  const tested = new Set(tests.flatMap((t) => t.digests).map(canonicalDigestReference));
  const tags = [...new Set([version, ...(input.extraTags ?? [])])];
  const images: PlannedImage[] = [];
  for (const image of build.images) {
    const source = canonicalDigestReference(image.reference);
    if (!tested.has(source)) {
      reasons.push(`${image.name}: ${source} is not among the digests the suites tested`);
      continue;
    }
    const at = source.lastIndexOf("@");
    images.push({ name: image.name, source, repository: source.slice(0, at), digest: source.slice(at + 1), tags });
  }

  if (reasons.length > 0) {
    throw new PromotionRefusedError(reasons, {
      context: { version, commit },
      hint: "promote only what ci built and tested for this commit: fix the failure, push to main, let ci pass, tag that commit",
    });
  }
  return { version, commit, images };
}
