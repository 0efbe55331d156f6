// The release: gate, then promote every tested digest to the release tags, registry to registry (no rebuild, no
// engine). Release tags are immutable, so every target tag is checked before any is written: a conflict on the third
// image never leaves the first two half-released.
import type { TestReport } from "@e2e3d/pipeline";
import { ARTIFACT_TYPES, type AttestationKind } from "@e2e3d/pipeline";
import { PromotionRefusedError, ReleaseTagConflictError } from "./errors.js";
import { type BuildReport, type PromotionPlan, planPromotion } from "./release-gate.js";

/** What every released image must carry as referrers: the build attaches both. */
const REQUIRED_ATTESTATIONS = Object.keys(ARTIFACT_TYPES) as AttestationKind[];

/** What a release tag pointed at before promotion: nothing, the same digest (nothing to do) or another digest. */
export type TagState = { state: "absent" } | { state: "same" } | { state: "other"; digest: string };

/** Registry-side operations of the release path. */
export interface Promoter {
  /** The kinds of attestation (SBOM, provenance) attached to `repository@digest` as referrers. */
  attestations(repository: string, digest: string): Promise<AttestationKind[]>;
  /** Where `repository:tag` points now, relative to `digest`. */
  inspect(repository: string, tag: string, digest: string): Promise<TagState>;
  /** Points `repository:tag` at `repository@digest` and verifies it; returns the digest the tag resolves to afterwards. */
  tag(repository: string, digest: string, tag: string): Promise<string>;
}

export interface ReleasedTag {
  tag: string;
  reference: string;
  action: "created" | "unchanged";
}

export interface ReleaseReport {
  version: string;
  commit: string;
  releasedAt: string;
  images: { name: string; source: string; digest: string; tags: ReleasedTag[] }[];
}

export interface ReleaseInput {
  build: BuildReport;
  tests: TestReport[];
  version: string;
  commit: string;
  extraTags?: string[];
  promoter: Promoter;
  /** Progress lines (which image, which tag, how far). */
  log?: (line: string) => void;
}

export async function release(input: ReleaseInput): Promise<ReleaseReport> {
  const log = input.log ?? (() => {});
  const plan: PromotionPlan = planPromotion(input);
  log(`gate: ${plan.images.length} image(s) of commit ${plan.commit} passed the suites; promoting to ${plan.version}`);

  // A release ships its SBOM and provenance: every image must carry both before any tag is written.
  const unattested: string[] = [];
  for (const image of plan.images) {
    const attached = new Set(await input.promoter.attestations(image.repository, image.digest));
    const missing = REQUIRED_ATTESTATIONS.filter((kind) => !attached.has(kind));
    if (missing.length > 0)
      unattested.push(`${image.name}: ${image.source} has no ${missing.join(" and no ")} attached`);
  }
  if (unattested.length > 0) {
    throw new PromotionRefusedError(unattested, {
      context: { version: plan.version },
      hint: "run pipelines/build.ts again for this commit: it attaches what an image lacks without changing its digest",
    });
  }
  log(`attestations: every image carries its ${REQUIRED_ATTESTATIONS.join(" and ")}`);

  // Check every target first: nothing is written unless every tag is free or already at the tested digest.
  const states = new Map<string, TagState>();
  const conflicts: string[] = [];
  for (const image of plan.images) {
    for (const tag of image.tags) {
      const state = await input.promoter.inspect(image.repository, tag, image.digest);
      states.set(`${image.repository}:${tag}`, state);
      if (state.state === "other")
        conflicts.push(`${image.repository}:${tag} already points at ${state.digest}, not ${image.digest}`);
    }
  }
  if (conflicts.length > 0) {
    throw new ReleaseTagConflictError(`release tags are immutable: ${conflicts.join("; ")}`, {
      context: { version: plan.version },
      hint: "release a new version instead of moving an existing release tag",
    });
  }

  const started = Date.now();
  const images: ReleaseReport["images"] = [];
  for (const [i, image] of plan.images.entries()) {
    const tags: ReleasedTag[] = [];
    for (const tag of image.tags) {
      const reference = `${image.repository}:${tag}`;
      if (states.get(reference)?.state === "same") {
        tags.push({ tag, reference, action: "unchanged" });
        continue;
      }
      const resolved = await input.promoter.tag(image.repository, image.digest, tag);
      if (resolved !== image.digest) {
        throw new ReleaseTagConflictError(
          `${reference} resolves to ${resolved} after promotion, expected ${image.digest}`,
          {
            hint: "another writer moved the tag during the release; check the registry",
          },
        );
      }
      tags.push({ tag, reference, action: "created" });
    }
    log(
      `[${i + 1}/${plan.images.length}] ${image.name}: ${image.digest} → ${image.tags.join(", ")} (${Date.now() - started} ms)`,
    );
    images.push({ name: image.name, source: image.source, digest: image.digest, tags });
  }
  return { version: plan.version, commit: plan.commit, releasedAt: new Date().toISOString(), images };
}
