// Resolving every service's image to `<private registry>/<repository>@<digest>`: third-party images through the lock
// file (`<private>/<source>@<digest>`), first-party images through the build report (`<private>/e2e3d/<name>@<digest>`).
// Nothing is ever deployed by tag.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { ImageResolutionError } from "./errors.js";
import type { ServiceSpec, StackModel } from "./model/types.js";
import { type LockFile, mirroredReference, readLockFile } from "./oci-adapter.js";

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/**
 * The build report (written by @e2e3d/pipeline's build, schema `BuildReport` in packages/pipeline/src/build/report.ts),
 * as far as deploy needs it: its status and, per image, the name and the reference by digest. Read here from the file
 * rather than through @e2e3d/pipeline so the stack package depends on the report's shape, not on the build code;
 * a list of `{ name, reference }` (the pipeline's form) or a record `name → { reference }` is accepted.
 */
const BuildEntry = z
  .object({
    name: z.string().optional(),
    reference: z.string().optional(),
    ref: z.string().optional(),
    repository: z.string().optional(),
    digest: z.string().optional(),
  })
  .passthrough();
const BuildReportShape = z.object({
  status: z.string().optional(),
  images: z.union([z.array(BuildEntry), z.record(z.string(), BuildEntry)]),
});

export type BuildReport = Map<string, string>;

export function parseBuildReport(text: string, source: string): BuildReport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ImageResolutionError(`the build report is not JSON`, { context: { file: source }, cause: err });
  }
  const parsed = BuildReportShape.safeParse(json);
  if (!parsed.success) {
    throw new ImageResolutionError(`the build report has no usable "images"`, {
      context: { file: source, issues: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") },
      hint: "pass the JSON report written by `npx tsx pipelines/build.ts`",
    });
  }
  if (parsed.data.status !== undefined && parsed.data.status !== "passed") {
    throw new ImageResolutionError(
      `the build report says the build ${parsed.data.status}: nothing from it is deployed`,
      {
        context: { file: source },
        hint: "fix the build and run it again; deploy only takes images from a passed build",
      },
    );
  }
  const entries = Array.isArray(parsed.data.images)
    ? parsed.data.images.map((e) => [e.name, e] as const)
    : Object.entries(parsed.data.images);
  const report: BuildReport = new Map();
  for (const [name, entry] of entries) {
    const reference =
      entry.reference ?? entry.ref ?? (entry.repository && entry.digest ? `${entry.repository}@${entry.digest}` : "");
    if (!name || !reference) {
      throw new ImageResolutionError(`a build report entry lacks a name or a reference by digest`, {
        context: { file: source, entry: JSON.stringify(entry) },
      });
    }
    report.set(name, reference);
  }
  return report;
}

export function readBuildReport(path: string): BuildReport {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ImageResolutionError(`cannot read the build report`, {
      context: { file: path },
      cause: err,
      hint: "run the build pipeline first (npx tsx pipelines/build.ts), or pass --build-report",
    });
  }
  return parseBuildReport(text, path);
}

export interface ImageInputs {
  lock: LockFile;
  lockSource: string;
  buildReport: BuildReport;
  buildReportSource: string;
  /** host[:port] of the private registry. */
  privateRegistry: string;
}

/** A reference split into its parts (only the digest form is accepted). */
export interface DigestReference {
  registry: string;
  repository: string;
  digest: string;
}

export function parseDigestReference(reference: string): DigestReference {
  const at = reference.lastIndexOf("@");
  const digest = at > 0 ? reference.slice(at + 1) : "";
  const name = at > 0 ? reference.slice(0, at) : reference;
  const slash = name.indexOf("/");
  if (!DIGEST.test(digest) || slash <= 0) {
    throw new ImageResolutionError(`not a reference by digest: ${reference}`, {
      hint: "images are deployed as <registry>/<repository>@sha256:<64 hex>, never by tag",
    });
  }
  return { registry: name.slice(0, slash), repository: name.slice(slash + 1), digest };
}

/** service name → full reference by digest, for every service of the model. All problems are collected. */
export function resolveImages(model: StackModel, inputs: ImageInputs): Map<string, string> {
  const resolved = new Map<string, string>();
  const problems: string[] = [];
  for (const service of model.services) {
    try {
      resolved.set(service.name, resolveImage(service, inputs));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new ImageResolutionError(
      `${problems.length} image(s) cannot be resolved to a digest:\n  - ${problems.join("\n  - ")}`,
      {
        context: { lock: inputs.lockSource, buildReport: inputs.buildReportSource },
        hint: "run the lock / build pipelines so every image the profile needs has a digest",
      },
    );
  }
  return resolved;
}

function resolveImage(service: ServiceSpec, inputs: ImageInputs): string {
  const { image } = service;
  if (image.kind === "lock") {
    const entry = inputs.lock.images[image.name];
    if (!entry) throw new Error(`${service.name}: "${image.name}" is not in the lock file ${inputs.lockSource}`);
    return mirroredReference(entry, inputs.privateRegistry);
  }
  const reference = inputs.buildReport.get(image.name);
  if (!reference)
    throw new Error(`${service.name}: "${image.name}" is not in the build report ${inputs.buildReportSource}`);
  const parsed = parseDigestReference(reference);
  // The build publishes to the private registry; deploy pulls from the registry it was told, by the same digest.
  return `${inputs.privateRegistry}/e2e3d/${image.name}@${parsed.digest}`;
}

export async function loadImageInputs(
  lockPath: string,
  buildReportPath: string,
  privateRegistry: string,
): Promise<ImageInputs> {
  return {
    lock: await readLockFile(lockPath),
    lockSource: lockPath,
    buildReport: readBuildReport(buildReportPath),
    buildReportSource: buildReportPath,
    privateRegistry,
  };
}
