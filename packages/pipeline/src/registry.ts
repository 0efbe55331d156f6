// The registry operations the build needs, on @e2e3d/oci's client (auth, retries, digest checks live there):
// HEAD a tag (skip-by-input-digest), GET + PUT the same manifest bytes (retag without an engine), and the image size.
import { clientFromEnv, defaultCredentials, type Manifest, type RegistryClient } from "@e2e3d/oci";

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** `registry/repository` split once; the registry is host[:port]. */
export interface RepositoryRef {
  registry: string;
  repository: string;
}

export type { Manifest };

/** Splits "host:port/path/name" into registry and repository; the first component must be a host. */
export function splitRepository(repo: string): RepositoryRef {
  const slash = repo.indexOf("/");
  if (slash < 0) throw new Error(`repository ${JSON.stringify(repo)} does not name a registry host`);
  return { registry: repo.slice(0, slash), repository: repo.slice(slash + 1) };
}

const at = (repo: RepositoryRef, reference: string) =>
  reference.startsWith("sha256:") ? { ...repo, digest: reference } : { ...repo, tag: reference };

/** Credentials for one registry from E2E3D_REGISTRY_CREDENTIALS or the Docker config (the same source as @e2e3d/oci). */
export async function credentialsFor(
  registry: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RegistryCredentials | undefined> {
  const credential = await defaultCredentials(env)(registry);
  return credential?.username && credential.password
    ? { username: credential.username, password: credential.password }
    : undefined;
}

export class ImageRegistry {
  readonly client: RegistryClient;

  constructor(client: RegistryClient = clientFromEnv()) {
    this.client = client;
  }

  /** The digest a tag or digest resolves to, or undefined when the registry does not have it. */
  async head(repo: RepositoryRef, reference: string): Promise<string | undefined> {
    return (await this.client.headManifest(at(repo, reference)))?.digest;
  }

  async getManifest(repo: RepositoryRef, reference: string): Promise<Manifest> {
    return this.client.getManifest(at(repo, reference));
  }

  /** Writes the manifest bytes unchanged under a tag: a retag that cannot alter the digest (the client verifies). */
  async putManifest(repo: RepositoryRef, tag: string, manifest: Manifest): Promise<string> {
    return (await this.client.putManifest({ ...repo, tag }, manifest.bytes, manifest.mediaType)).digest;
  }

  /** Compressed size of an image: config and layers of a manifest, summed over children for an index. */
  async imageSize(repo: RepositoryRef, reference: string): Promise<number> {
    const manifest = await this.getManifest(repo, reference);
    if (manifest.parsed.isIndex) {
      let total = 0;
      for (const child of manifest.parsed.manifests) total += await this.imageSize(repo, child.digest);
      return total;
    }
    return manifest.parsed.blobs.reduce((sum, blob) => sum + blob.size, 0);
  }

  /** The `created` time in an image's config (single-platform manifests; undefined for an index or none set). */
  async imageCreated(repo: RepositoryRef, reference: string): Promise<string | undefined> {
    const manifest = await this.getManifest(repo, reference);
    if (manifest.parsed.isIndex) return undefined;
    const configDescriptor = (
      JSON.parse(manifest.bytes.toString("utf8")) as { config?: { digest: string; size: number } }
    ).config;
    if (!configDescriptor) return undefined;
    const config = JSON.parse((await this.client.getBlob(at(repo, reference), configDescriptor)).toString("utf8")) as {
      created?: string;
    };
    return config.created;
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}
