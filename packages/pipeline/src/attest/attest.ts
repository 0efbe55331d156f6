// Attaches the SBOM and the provenance to a pushed image as OCI referrers, once: what is already attached (found
// through listReferrers, API or fallback tag) is reported, not made again, so an old cached image gets its
// attestations on the next build and a rebuild of the same inputs attaches nothing new.
import {
  attachArtifact,
  type Descriptor,
  formatReference,
  type Reference,
  type RegistryClient,
  withDigest,
} from "@e2e3d/oci";
import { PipelineError } from "../errors.js";
import { formatSeconds, type Logger } from "../log/logger.js";
import { PROVENANCE_ARTIFACT_TYPE, type ProvenanceInput, provenanceStatement } from "./provenance.js";
import { imageSbom, SBOM_ARTIFACT_TYPE, SBOM_COMPONENTS_ANNOTATION } from "./sbom.js";

export type AttestationKind = "sbom" | "provenance";

export interface Attestation {
  kind: AttestationKind;
  /** The referrer manifest's digest (what listReferrers lists). */
  digest: string;
  artifactType: string;
  /** Bytes of the document itself. */
  size: number;
  /** SBOM only: how many components it lists. */
  components?: number;
  /** True when this run attached it; false when the image already had it. */
  attached: boolean;
}

export const ARTIFACT_TYPES: Record<AttestationKind, string> = {
  sbom: SBOM_ARTIFACT_TYPE,
  provenance: PROVENANCE_ARTIFACT_TYPE,
};

export class AttestationError extends PipelineError {}

const kindOf = (artifactType: string | undefined): AttestationKind | undefined =>
  artifactType === SBOM_ARTIFACT_TYPE ? "sbom" : artifactType === PROVENANCE_ARTIFACT_TYPE ? "provenance" : undefined;

/** The attestations an image already has, by kind (the first of each kind when there are several). */
export async function existingAttestations(
  client: RegistryClient,
  image: Reference,
): Promise<Map<AttestationKind, Descriptor>> {
  const { referrers } = await client.listReferrers(image, image.digest!);
  const found = new Map<AttestationKind, Descriptor>();
  for (const referrer of referrers) {
    const kind = kindOf(referrer.artifactType);
    if (kind && !found.has(kind)) found.set(kind, referrer);
  }
  return found;
}

async function describeExisting(
  client: RegistryClient,
  image: Reference,
  kind: AttestationKind,
  referrer: Descriptor,
): Promise<Attestation> {
  const manifest = await client.getManifest(withDigest(image, referrer.digest));
  const layer = manifest.parsed.raw.layers?.[0];
  const components = Number(manifest.parsed.raw.annotations?.[SBOM_COMPONENTS_ANNOTATION]);
  return {
    kind,
    digest: referrer.digest,
    artifactType: ARTIFACT_TYPES[kind],
    size: layer?.size ?? 0,
    ...(kind === "sbom" && Number.isInteger(components) ? { components } : {}),
    attached: false,
  };
}

/**
 * Makes sure `image` (a digest reference) has an SBOM and a provenance statement attached. Any failure is an
 * AttestationError naming the image, the step and what to do; nothing is half-reported.
 */
export async function attestImage(
  client: RegistryClient,
  image: Reference,
  provenance: ProvenanceInput,
  log: Logger,
): Promise<Attestation[]> {
  const ref = formatReference(image);
  let step = "list referrers";
  try {
    const existing = await existingAttestations(client, image);
    const result: Attestation[] = [];
    for (const kind of ["sbom", "provenance"] as const) {
      const have = existing.get(kind);
      if (have) {
        step = `read the existing ${kind}`;
        result.push(await describeExisting(client, image, kind, have));
        log.info(`${kind}: already attached (${have.digest})`);
        continue;
      }
      const started = performance.now();
      if (kind === "sbom") {
        step = "make the SBOM";
        log.step(`sbom: read the layers of ${ref}`);
        const sbom = await imageSbom(client, image, (p) =>
          log.progress(
            p.layer,
            p.layers,
            `sbom: layer ${p.digest.slice(7, 19)} (${(p.bytes / 1e6).toFixed(0)} MB read, ${p.seconds.toFixed(1)} s)`,
          ),
        );
        step = "attach the SBOM";
        const attached = await attachArtifact(client, image, {
          artifactType: SBOM_ARTIFACT_TYPE,
          content: sbom.document,
          annotations: { [SBOM_COMPONENTS_ANNOTATION]: String(sbom.components) },
        });
        const counts = Object.entries(sbom.counts)
          .map(([type, n]) => `${type} ${n}`)
          .join(", ");
        log.info(
          `sbom: ${sbom.components} components (${counts || "none"}) from ${sbom.layers} layer(s), ${(sbom.layerBytes / 1e6).toFixed(0)} MB, in ${formatSeconds(performance.now() - started)} → ${attached.descriptor.digest}`,
        );
        result.push({
          kind,
          digest: attached.descriptor.digest,
          artifactType: SBOM_ARTIFACT_TYPE,
          size: attached.blob.size,
          components: sbom.components,
          attached: true,
        });
      } else {
        step = "make the provenance";
        log.step(`provenance: ${ref}`);
        const statement = provenanceStatement(provenance);
        step = "attach the provenance";
        const attached = await attachArtifact(client, image, {
          artifactType: PROVENANCE_ARTIFACT_TYPE,
          content: statement,
        });
        log.info(
          `provenance: attached in ${formatSeconds(performance.now() - started)} → ${attached.descriptor.digest}`,
        );
        result.push({
          kind,
          digest: attached.descriptor.digest,
          artifactType: PROVENANCE_ARTIFACT_TYPE,
          size: attached.blob.size,
          attached: true,
        });
      }
    }
    return result;
  } catch (error) {
    // Pipeline and registry errors both carry a hint; keep theirs when they have one.
    const hint = (error as { hint?: string | undefined }).hint;
    const message = error instanceof Error ? error.message : String(error);
    throw new AttestationError(`attestations of ${ref}: ${step} failed: ${message}`, {
      hint:
        hint ??
        "the registry must accept OCI image manifests with a subject and the sha256-<hex> fallback tag; check push access to the repository, then re-run the build (the image is cached: only the attestations are retried)",
      context: { image: ref, step },
      cause: error,
    });
  }
}
