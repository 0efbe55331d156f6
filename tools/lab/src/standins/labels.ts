// The OCI labels of a stand-in image, derived from the catalog: the lab passes them to `docker build --label`, so
// the Dockerfiles carry no LABEL and no label-only ARG (a label set this way never invalidates a RUN layer's cache).
// Everything here except the build time and the input hash itself goes into the input hash (see ./inputs.ts), so a
// change of the catalog's metadata rebuilds the image.
import { STAND_IN_LABEL } from "../base-image.js";
import { BASE_SUITE } from "../config.js";
import type { StandIn } from "./catalog.js";
import { INPUT_HASH_LABEL } from "./inputs.js";

/** The label keys the stand-ins carry (other code reads some of them: the input hash, the stand-in marker). */
export const LABEL_KEYS = {
  title: "org.opencontainers.image.title",
  version: "org.opencontainers.image.version",
  description: "org.opencontainers.image.description",
  created: "org.opencontainers.image.created",
  baseName: "org.opencontainers.image.base.name",
  /** The stand-in's name in docker/lab/images.yaml. */
  standInName: "io.e2e3d.lab.standin",
  /** "true" on every image the lab makes in place of a third-party one (the base image too). */
  standIn: STAND_IN_LABEL,
  /** The real image's repository path. */
  standInFor: "dev.e2e3d.lab.stand-in-for",
  inputHash: INPUT_HASH_LABEL,
} as const;

export interface StableLabelInputs {
  /** The exact version inside (Debian version or Go module version). */
  version: string;
  /** The base image reference the build starts from. */
  baseImage: string;
}

/** What is inside, for the description: the package or module, its exact version and the catalog's note. */
function contents(standIn: StandIn, version: string): string {
  const { source } = standIn;
  const about = standIn.about ? ` (${standIn.about})` : "";
  return source.kind === "debian"
    ? `Debian package ${source.package} ${version}${about}`
    : `Go module ${source.module} ${version}${about} built from the Go module proxy`;
}

/** The labels that depend only on the catalog, the version and the base: the same inputs give the same labels. */
export function stableLabels(standIn: StandIn, inputs: StableLabelInputs): Record<string, string> {
  return {
    [LABEL_KEYS.title]: standIn.title ?? `${standIn.name} (E2E3D lab stand-in)`,
    [LABEL_KEYS.version]: inputs.version,
    [LABEL_KEYS.description]: `E2E3D lab stand-in for ${standIn.repository}: ${contents(standIn, inputs.version)} on the lab Debian ${BASE_SUITE} base`,
    [LABEL_KEYS.baseName]: inputs.baseImage,
    [LABEL_KEYS.standInName]: standIn.name,
    [LABEL_KEYS.standIn]: "true",
    [LABEL_KEYS.standInFor]: standIn.repository,
  };
}

/** Every label of a build: the stable ones, the build time (else the base's created label shows through) and the hash. */
export function buildLabels(
  stable: Record<string, string>,
  build: { created: string; inputHash: string },
): Record<string, string> {
  return { ...stable, [LABEL_KEYS.created]: build.created, [LABEL_KEYS.inputHash]: build.inputHash };
}

/** `docker build` arguments for the labels, sorted by key so the command line is the same for the same labels. */
export function labelArgs(labels: Record<string, string>): string[] {
  return Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([key, value]) => ["--label", `${key}=${value}`]);
}
