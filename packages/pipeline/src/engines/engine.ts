// The narrow engine interface: build an image from a context and a Dockerfile (build args, target), publish it to
// one reference, return the digest. Everything else (input digests, skip-by-HEAD, retags, reports) is engine-free.
import type { Logger } from "../log/logger.js";

export type EngineName = "docker" | "dagger";

export interface BuildRequest {
  /** Image name for logs (e.g. "reconstruction"). */
  name: string;
  /** The staged context directory: exactly the files to send. */
  contextDir: string;
  /** The Dockerfile's path inside contextDir. */
  dockerfile: string;
  buildArgs: Readonly<Record<string, string>>;
  target?: string | undefined;
  /** registry/repository:tag to publish to; only written after the build succeeded. */
  publishTo: string;
  /** Seconds since the epoch for reproducible timestamps where the engine honours it. */
  sourceDateEpoch?: number | undefined;
  /**
   * Build secrets: id → file on this machine, mounted at /run/secrets/<id> for the RUN steps that ask for them.
   * Never part of the image or of its cache key (e.g. `ca_bundle`, the host's CA bundle for a TLS-inspecting proxy).
   */
  secrets?: Readonly<Record<string, string>> | undefined;
  /** Ignore the engine's layer cache (the benchmark's cold build). */
  noCache?: boolean | undefined;
}

export interface PublishedImage {
  /** What the engine says it published: registry/repository@sha256:... */
  reference: string;
  digest: string;
}

export interface Engine {
  readonly name: EngineName;
  /** A one-line description (client/engine versions) for logs and reports. */
  describe(log: Logger): Promise<string>;
  buildAndPublish(request: BuildRequest, log: Logger): Promise<PublishedImage>;
}
