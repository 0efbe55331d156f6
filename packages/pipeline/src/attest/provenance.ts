// Build provenance: an in-toto Statement v1 with a SLSA provenance v1 predicate. Everything in it is an input of
// the build (no clock, no host name), so the same image digest and inputs give the same bytes and re-attaching is
// a no-op. Build args are filtered: secrets never go in (build secrets are not args at all; an arg whose name
// looks like a credential is dropped, and a value carrying credentials in a URL is refused).
import { z } from "zod";
import { PipelineError } from "../errors.js";

export const PROVENANCE_ARTIFACT_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";
/** Our build type: what externalParameters mean is documented in packages/pipeline/README.md. */
export const BUILD_TYPE = "https://e2e3d.dev/build/docker-image/v1";
export const BUILDER_ID_PREFIX = "https://e2e3d.dev/builders/";

export interface ProvenanceInput {
  /** registry/e2e3d/<name> */
  repository: string;
  digest: string;
  dockerfile: string;
  context: string;
  include: readonly string[];
  target?: string | undefined;
  buildArgs: Readonly<Record<string, string>>;
  inputDigest: string;
  /** The git commit of the sources; `dirty` when the image's inputs had uncommitted changes. */
  source?: { commit: string; dirty: boolean } | undefined;
  base: { name: string; reference: string };
  /** The engine that built the image; absent for a cached image built earlier (the builder was not recorded then). */
  builder?: { engine: "docker" | "dagger"; version?: string | undefined } | undefined;
}

/** Build-arg names that may carry a secret; such args are left out of the provenance whatever their value. */
const SECRET_NAME = /secret|token|passw|credential|ca_bundle|private|api_?key|auth/i;

export class ProvenanceError extends PipelineError {}

export function publicBuildArgs(args: Readonly<Record<string, string>>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of Object.keys(args).sort()) {
    const value = args[name]!;
    if (SECRET_NAME.test(name)) continue;
    if (/:\/\/[^/@\s]+:[^/@\s]+@/.test(value)) {
      throw new ProvenanceError(
        `build arg ${name} carries credentials in a URL; it would be published in the provenance`,
        {
          hint: "pass credentials as a build secret (RUN --mount=type=secret), never as a build arg",
        },
      );
    }
    kept[name] = value;
  }
  return kept;
}

const hex = (digest: string) => {
  const match = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!match) throw new ProvenanceError(`${digest} is not a sha256 digest`);
  return match[1]!;
};

/** The statement's JSON bytes (fixed key order, no whitespace): deterministic for the same input. */
export function provenanceStatement(input: ProvenanceInput): Buffer {
  const baseDigest = input.base.reference.split("@")[1] ?? "";
  const dependencies: Record<string, unknown>[] = [];
  if (input.source) {
    dependencies.push({
      uri: "git+source",
      digest: { gitCommit: input.source.commit },
      name: "source",
      ...(input.source.dirty ? { annotations: { uncommittedChanges: true } } : {}),
    });
  }
  dependencies.push({
    uri: `oci://${input.base.reference.split("@")[0]}`,
    digest: { sha256: hex(baseDigest) },
    name: input.base.name,
  });
  const statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: input.repository, digest: { sha256: hex(input.digest) } }],
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          dockerfile: input.dockerfile,
          context: input.context,
          include: [...input.include],
          ...(input.target ? { target: input.target } : {}),
          buildArgs: publicBuildArgs(input.buildArgs),
        },
        internalParameters: { inputDigest: input.inputDigest },
        resolvedDependencies: dependencies,
      },
      runDetails: {
        builder: {
          id: `${BUILDER_ID_PREFIX}${input.builder?.engine ?? "unrecorded"}`,
          ...(input.builder?.version ? { version: { engine: input.builder.version } } : {}),
        },
        metadata: { invocationId: input.inputDigest },
      },
    },
  };
  return Buffer.from(JSON.stringify(statement));
}

export interface ProvenanceSummary {
  subject: string;
  commit: string | undefined;
  dirty: boolean;
  base: string | undefined;
  builder: string | undefined;
  builderVersion: string | undefined;
  inputDigest: string | undefined;
}

const Statement = z.object({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(z.object({ name: z.string(), digest: z.record(z.string(), z.string()) })).min(1),
  predicateType: z.string(),
  predicate: z
    .object({
      buildDefinition: z
        .object({
          resolvedDependencies: z
            .array(
              z.object({
                uri: z.string().optional(),
                digest: z.record(z.string(), z.string()).optional(),
                annotations: z.record(z.string(), z.unknown()).optional(),
              }),
            )
            .optional(),
          internalParameters: z.object({ inputDigest: z.string().optional() }).passthrough().optional(),
        })
        .passthrough()
        .optional(),
      runDetails: z
        .object({
          builder: z.object({ id: z.string(), version: z.record(z.string(), z.string()).optional() }).optional(),
        })
        .passthrough()
        .optional(),
    })
    .passthrough()
    .optional(),
});

/** Reads back what a person wants from a statement (tolerant: a statement from another tool yields what it has). */
export function summariseProvenance(bytes: Buffer): ProvenanceSummary {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new ProvenanceError("the provenance is not JSON", { cause });
  }
  const parsed = Statement.safeParse(json);
  if (!parsed.success) {
    throw new ProvenanceError(
      `not an in-toto Statement v1: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  const statement = parsed.data;
  const deps = statement.predicate?.buildDefinition?.resolvedDependencies ?? [];
  const source = deps.find((d) => d.digest?.["gitCommit"]);
  const base = deps.find((d) => d.digest?.["sha256"]);
  const subject = statement.subject[0]!;
  return {
    subject: `${subject.name}@sha256:${subject.digest["sha256"]}`,
    commit: source?.digest?.["gitCommit"],
    dirty: source?.annotations?.["uncommittedChanges"] === true,
    base: base ? `${(base.uri ?? "").replace(/^oci:\/\//, "")}@sha256:${base.digest?.["sha256"]}` : undefined,
    builder: statement.predicate?.runDetails?.builder?.id,
    builderVersion: statement.predicate?.runDetails?.builder?.version?.["engine"],
    inputDigest: statement.predicate?.buildDefinition?.internalParameters?.inputDigest,
  };
}
