// The build report: what the build produced, by digest. The test, deploy and promote pipelines take it as input,
// so it is a schema (zod), validated when written and when read.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { BuildInputError } from "../errors.js";

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);

/** An SBOM or provenance statement attached to the image as an OCI referrer (see packages/pipeline/src/attest). */
export const AttestationRecord = z.object({
  kind: z.enum(["sbom", "provenance"]),
  /** The referrer manifest's digest: what the registry's referrers list names. */
  digest,
  artifactType: z.string(),
  /** Bytes of the document. */
  size: z.number().int().nonnegative(),
  /** SBOM only: components listed. */
  components: z.number().int().nonnegative().optional(),
  /** This run attached it (false: the image already had it). */
  attached: z.boolean(),
});
export type AttestationRecord = z.infer<typeof AttestationRecord>;

export const BuiltImage = z.object({
  name: z.string(),
  /** registry/e2e3d/<name> */
  repository: z.string(),
  /** repository@sha256:...: what to deploy, test and promote. */
  reference: z.string().regex(/@sha256:[a-f0-9]{64}$/),
  digest,
  tags: z.array(z.string()),
  inputDigest: digest,
  sizeBytes: z.number().int().nonnegative(),
  buildSeconds: z.number().nonnegative(),
  cacheHit: z.boolean(),
  /** The engine that built it; null when the input-digest tag already existed and no engine ran. */
  engine: z.enum(["docker", "dagger"]).nullable(),
  base: z.object({ name: z.string(), reference: z.string() }),
  /** Whether a rebuild of the same inputs gave the same digest: only known when one was compared (--rebuild). */
  reproducible: z.object({
    compared: z.boolean(),
    sameDigest: z.boolean().optional(),
    previousDigest: digest.optional(),
  }),
  /**
   * The image config's `created` against the SOURCE_DATE_EPOCH the build was given (the inputs' last commit time):
   * honoured when they are equal, which makes `created` reproducible. Read back from the pushed image, so it says what
   * the engine did, not what it was asked; absent for cache hits and in older reports.
   */
  timestamp: z
    .object({ sourceDateEpoch: z.number().int().optional(), created: z.string().optional(), honoured: z.boolean() })
    .optional(),
  /** Why sha-/branch tags were not written (uncommitted changes in the image's inputs, no git). */
  tagsWithheld: z.string().optional(),
  /** SBOM and provenance referrers; absent in reports written before attestations existed. */
  attestations: z.array(AttestationRecord).optional(),
});
export type BuiltImage = z.infer<typeof BuiltImage>;

export const LintFindingSchema = z.object({
  file: z.string(),
  line: z.number(),
  rule: z.string(),
  message: z.string(),
});

export const BuildReport = z.object({
  version: z.literal(1),
  status: z.enum(["passed", "failed"]),
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime(),
  /** Absent outside a git checkout (the release gate reads it when present). */
  commit: z.string().optional(),
  branch: z.string().optional(),
  registry: z.string(),
  engine: z.object({ name: z.enum(["docker", "dagger"]), reason: z.string(), description: z.string().optional() }),
  lint: z.object({ files: z.array(z.string()), findings: z.array(LintFindingSchema) }),
  images: z.array(BuiltImage),
  skipped: z.array(z.object({ name: z.string(), reason: z.string() })),
  failures: z.array(z.object({ name: z.string(), step: z.string(), message: z.string(), tail: z.array(z.string()) })),
});
export type BuildReport = z.infer<typeof BuildReport>;

export async function writeBuildReport(path: string, report: BuildReport): Promise<void> {
  const valid = BuildReport.parse(report);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(valid, null, 2)}\n`);
}

export async function readBuildReport(path: string): Promise<BuildReport> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new BuildInputError(`cannot read build report ${path}: ${(error as Error).message}`, {
      hint: "run the build first: npx tsx pipelines/build.ts --report reports/build.json",
      cause: error,
    });
  }
  const parsed = BuildReport.safeParse(json);
  if (!parsed.success) {
    throw new BuildInputError(
      `${path} is not a build report: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.data;
}
