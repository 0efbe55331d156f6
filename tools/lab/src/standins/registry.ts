// Reads what the lab upstream holds for a tag: the manifest digest and the image config's labels. Used to skip a
// build whose inputs have not changed (cheap: two small GETs) and to report the digest actually pushed.
// Plain fetch over HTTP: the lab registries are loopback-only distribution 2.8 servers without TLS or auth.
import { createHash } from "node:crypto";
import { UpstreamRegistryError } from "./errors.js";

/** Every manifest type the registry may hold; without the index/list types distribution 2.8 answers 404 or converts. */
const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const SINGLE_MANIFEST_TYPES = new Set([
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
]);

export interface RemoteImage {
  digest: string;
  mediaType: string;
  /** Labels of the image config; empty for an index (the lab's stand-ins are single manifests). */
  labels: Record<string, string>;
}

async function get(url: string, accept: string): Promise<Response> {
  try {
    return await fetch(url, { headers: { Accept: accept } });
  } catch (err) {
    throw new UpstreamRegistryError(`the lab upstream registry does not answer at ${new URL(url).host}`, {
      context: { url },
      cause: err,
      hint: "bring the lab up first: npx tsx tools/lab/src/cli.ts up (or set E2E3D_UPSTREAM_REGISTRY)",
    });
  }
}

/** The image behind registry/repository:tag, or undefined when the tag does not exist. */
export async function readRemoteImage(
  registry: string,
  repository: string,
  tag: string,
): Promise<RemoteImage | undefined> {
  const manifestUrl = `http://${registry}/v2/${repository}/manifests/${tag}`;
  const response = await get(manifestUrl, MANIFEST_ACCEPT);
  if (response.status === 404) return undefined;
  if (!response.ok) {
    throw new UpstreamRegistryError(
      `reading ${repository}:${tag} from the lab upstream failed: HTTP ${response.status}`,
      {
        context: { url: manifestUrl, status: response.status },
      },
    );
  }
  const body = Buffer.from(await response.arrayBuffer());
  // The digest is computed from the bytes received, and must agree with what the registry says.
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  const announced = response.headers.get("docker-content-digest");
  if (announced && announced !== digest) {
    throw new UpstreamRegistryError(
      `the lab upstream announced ${announced} for ${repository}:${tag} but sent ${digest}`,
      {
        context: { url: manifestUrl },
      },
    );
  }
  const manifest = JSON.parse(body.toString("utf8")) as { mediaType?: string; config?: { digest?: string } };
  const mediaType = manifest.mediaType ?? response.headers.get("content-type") ?? "";
  if (!SINGLE_MANIFEST_TYPES.has(mediaType) || !manifest.config?.digest) return { digest, mediaType, labels: {} };

  const configUrl = `http://${registry}/v2/${repository}/blobs/${manifest.config.digest}`;
  const configResponse = await get(configUrl, "*/*");
  // A tag whose config blob is gone is treated as stale: the caller rebuilds and pushes it again.
  if (!configResponse.ok) return { digest, mediaType, labels: {} };
  const config = (await configResponse.json()) as { config?: { Labels?: Record<string, string> | null } };
  return { digest, mediaType, labels: config.config?.Labels ?? {} };
}
