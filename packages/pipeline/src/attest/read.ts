// Reads an image's attestations back (pipelines/attestations.ts): the referrers, the SBOM summary and the
// provenance summary. Documents are fetched by digest and verified by the registry client.
import { formatReference, type Reference, type RegistryClient, readArtifact } from "@e2e3d/oci";
import { z } from "zod";
import { PipelineError } from "../errors.js";
import { PROVENANCE_ARTIFACT_TYPE, type ProvenanceSummary, summariseProvenance } from "./provenance.js";
import { SBOM_ARTIFACT_TYPE } from "./sbom.js";

export interface AttestationsView {
  image: string;
  /** Whether the registry answered with its referrers API (else the sha256-<hex> fallback tag). */
  referrersApi: boolean;
  referrers: { digest: string; artifactType: string; size: number }[];
  sbom?: {
    digest: string;
    specVersion: string;
    components: number;
    byPurlType: Record<string, number>;
    byComponentType: Record<string, number>;
  };
  provenance?: ProvenanceSummary & { digest: string };
}

const CycloneDxDoc = z.object({
  bomFormat: z.literal("CycloneDX"),
  specVersion: z.string(),
  components: z.array(z.object({ type: z.string(), purl: z.string().optional() })).default([]),
});

export function summariseSbom(bytes: Buffer): Omit<NonNullable<AttestationsView["sbom"]>, "digest"> {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (cause) {
    throw new PipelineError("the SBOM is not JSON", { cause });
  }
  const parsed = CycloneDxDoc.safeParse(json);
  if (!parsed.success)
    throw new PipelineError(`the SBOM is not a CycloneDX JSON document: ${parsed.error.issues[0]?.message}`);
  const byPurlType: Record<string, number> = {};
  const byComponentType: Record<string, number> = {};
  for (const c of parsed.data.components) {
    const type = /^pkg:([^/]+)\//.exec(c.purl ?? "")?.[1] ?? "(no purl)";
    byPurlType[type] = (byPurlType[type] ?? 0) + 1;
    byComponentType[c.type] = (byComponentType[c.type] ?? 0) + 1;
  }
  return {
    specVersion: parsed.data.specVersion,
    components: parsed.data.components.length,
    byPurlType,
    byComponentType,
  };
}

export async function readAttestations(client: RegistryClient, image: Reference): Promise<AttestationsView> {
  if (!image.digest) {
    throw new PipelineError(`attestations hang off a digest, got ${formatReference(image)}`, {
      hint: "pass the image by digest (repository@sha256:...), e.g. the reference in reports/build.json",
    });
  }
  const { api, referrers } = await client.listReferrers(image, image.digest);
  const view: AttestationsView = {
    image: formatReference(image),
    referrersApi: api,
    referrers: referrers.map((r) => ({ digest: r.digest, artifactType: r.artifactType ?? "(none)", size: r.size })),
  };
  const sbom = referrers.find((r) => r.artifactType === SBOM_ARTIFACT_TYPE);
  if (sbom) {
    const { content } = await readArtifact(client, image, sbom);
    view.sbom = { digest: sbom.digest, ...summariseSbom(content) };
  }
  const provenance = referrers.find((r) => r.artifactType === PROVENANCE_ARTIFACT_TYPE);
  if (provenance) {
    const { content } = await readArtifact(client, image, provenance);
    view.provenance = { digest: provenance.digest, ...summariseProvenance(content) };
  }
  return view;
}

const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");

/** The terminal view: one line per referrer, then the two summaries. */
export function formatAttestations(view: AttestationsView): string {
  const lines = [
    `${view.image}: ${view.referrers.length} referrer(s) (${view.referrersApi ? "referrers API" : "fallback tag"})`,
    ...view.referrers.map((r) => `  ${r.digest}  ${r.artifactType}  (manifest ${r.size} B)`),
  ];
  if (view.sbom) {
    lines.push(
      `SBOM (CycloneDX ${view.sbom.specVersion}, ${view.sbom.digest.slice(0, 19)}…): ${view.sbom.components} components`,
      `  by package type: ${counts(view.sbom.byPurlType) || "none"}`,
      `  by component type: ${counts(view.sbom.byComponentType) || "none"}`,
    );
  } else lines.push("SBOM: none attached");
  if (view.provenance) {
    const p = view.provenance;
    lines.push(
      `provenance (${p.digest.slice(0, 19)}…):`,
      `  commit:  ${p.commit ?? "(not recorded)"}${p.dirty ? " (with uncommitted changes)" : ""}`,
      `  base:    ${p.base ?? "(not recorded)"}`,
      `  builder: ${p.builder ?? "(not recorded)"}${p.builderVersion ? ` (${p.builderVersion})` : ""}`,
      `  inputs:  ${p.inputDigest ?? "(not recorded)"}`,
    );
  } else lines.push("provenance: none attached");
  return lines.join("\n");
}
