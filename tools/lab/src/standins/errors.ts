// Typed errors of the stand-in builder. They extend the lab's LabError so the CLI prints them the same way
// (what failed, context, log tail, how to fix).
import { LabError } from "../errors.js";

/** A stand-in image could not be built or pushed. */
export class StandInBuildError extends LabError {}

/** The Debian archive (or the Go module pin) no longer gives the version that images.yaml promises. */
export class StandInVersionDriftError extends LabError {}

/** The lab upstream registry did not answer as a registry should. */
export class UpstreamRegistryError extends LabError {}

/** No usable Go toolchain for the stand-ins Debian does not package. */
export class GoToolchainError extends LabError {}
