// The few registry API calls the lab itself needs (is a tag there, what does it point at). The full registry
// client is packages/oci; the lab stays independent of it so it can bring up the machine those packages test on.

/** distribution 2.8 answers 404 for an index, or down-converts a list to schema 1, unless these are accepted. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

/** The digest a tag (or digest) resolves to, or undefined when the registry does not have it. */
export async function manifestDigest(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<string | undefined> {
  try {
    const response = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
      method: "HEAD",
      headers: { Accept: MANIFEST_ACCEPT },
      signal: AbortSignal.timeout(10_000),
    });
    return response.ok ? (response.headers.get("docker-content-digest") ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

/** The labels in an image's config, read through its manifest; undefined when anything is missing. */
export async function imageLabels(
  registryUrl: string,
  repository: string,
  reference: string,
): Promise<Record<string, string> | undefined> {
  try {
    const manifest = await fetch(`${registryUrl}/v2/${repository}/manifests/${reference}`, {
      headers: { Accept: MANIFEST_ACCEPT },
      signal: AbortSignal.timeout(10_000),
    });
    if (!manifest.ok) return undefined;
    const body = (await manifest.json()) as { config?: { digest?: string } };
    const configDigest = body.config?.digest;
    if (!configDigest) return undefined;
    const config = await fetch(`${registryUrl}/v2/${repository}/blobs/${configDigest}`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (!config.ok) return undefined;
    const image = (await config.json()) as { config?: { Labels?: Record<string, string> | null } };
    return image.config?.Labels ?? {};
  } catch {
    return undefined;
  }
}
