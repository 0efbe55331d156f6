// TEMPORARY: a minimal registry client (manifest HEAD, GET, PUT) with undici, until @e2e3d/oci exports its client.
// Swap every use for @e2e3d/oci then; nothing outside this module knows how registry calls are made.
// Kept deliberately small: anonymous, Basic, or Bearer-token auth; http for loopback registries, https elsewhere.
import { createHash } from "node:crypto";
import { request } from "undici";
import { RegistryError } from "./errors.js";

export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** `registry/repository` split once; the registry is host[:port]. */
export interface RepositoryRef {
  registry: string;
  repository: string;
}

export interface Manifest {
  digest: string;
  mediaType: string;
  body: Buffer;
}

const isLoopback = (registry: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(registry);

/** Splits "host:port/path/name" into registry and repository; the first component must be a host. */
export function splitRepository(repo: string): RepositoryRef {
  const slash = repo.indexOf("/");
  if (slash < 0) throw new RegistryError(`repository ${JSON.stringify(repo)} does not name a registry host`);
  return { registry: repo.slice(0, slash), repository: repo.slice(slash + 1) };
}

export class RegistryClient {
  readonly #credentials: RegistryCredentials | undefined;
  readonly #tokens = new Map<string, string>();

  constructor(credentials?: RegistryCredentials) {
    this.#credentials = credentials;
  }

  /** The digest a tag or digest resolves to, or undefined when the registry does not have it (404). */
  async head(repo: RepositoryRef, reference: string): Promise<string | undefined> {
    const res = await this.#call("HEAD", repo, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    if (res.status === 404) return undefined;
    this.#expect(res.status, [200], "HEAD manifest", repo, reference);
    const digest = res.headers["docker-content-digest"];
    if (typeof digest !== "string") {
      throw new RegistryError(
        `the registry sent no Docker-Content-Digest for ${repo.registry}/${repo.repository}:${reference}`,
      );
    }
    return digest;
  }

  async getManifest(repo: RepositoryRef, reference: string): Promise<Manifest> {
    const res = await this.#call("GET", repo, `manifests/${reference}`, { accept: MANIFEST_ACCEPT });
    this.#expect(res.status, [200], "GET manifest", repo, reference);
    const body = res.body;
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    const mediaType = String(res.headers["content-type"] ?? JSON.parse(body.toString("utf8")).mediaType);
    return { digest, mediaType, body };
  }

  /** Writes the manifest bytes unchanged under a tag: a retag that cannot alter the digest. */
  async putManifest(repo: RepositoryRef, tag: string, manifest: Manifest): Promise<string> {
    const res = await this.#call("PUT", repo, `manifests/${tag}`, {
      "content-type": manifest.mediaType,
      body: manifest.body,
    });
    this.#expect(res.status, [201, 200], "PUT manifest", repo, tag);
    const digest = res.headers["docker-content-digest"];
    if (typeof digest === "string" && digest !== manifest.digest) {
      throw new RegistryError(`retag changed the digest of ${repo.repository}:${tag}: ${manifest.digest} → ${digest}`, {
        hint: "the registry re-encoded the manifest; use a registry that stores manifests verbatim",
      });
    }
    return manifest.digest;
  }

  /** Compressed size of an image: config and layers of a manifest, summed over children for an index. */
  async imageSize(repo: RepositoryRef, reference: string): Promise<number> {
    const manifest = await this.getManifest(repo, reference);
    const doc = JSON.parse(manifest.body.toString("utf8")) as {
      manifests?: { digest: string }[];
      config?: { size: number };
      layers?: { size: number }[];
    };
    if (doc.manifests) {
      let total = 0;
      for (const child of doc.manifests) total += await this.imageSize(repo, child.digest);
      return total;
    }
    return (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((sum, layer) => sum + layer.size, 0);
  }

  #expect(status: number, ok: number[], operation: string, repo: RepositoryRef, reference: string): void {
    if (ok.includes(status)) return;
    throw new RegistryError(`${operation} ${repo.registry}/${repo.repository}:${reference} answered HTTP ${status}`, {
      context: { registry: repo.registry, operation, status },
      hint:
        status === 401 || status === 403
          ? "set E2E3D_REGISTRY_USERNAME and E2E3D_REGISTRY_PASSWORD for this registry"
          : "check that the registry is up (npx tsx tools/lab/src/cli.ts status) and the name is right",
    });
  }

  async #call(
    method: "HEAD" | "GET" | "PUT",
    repo: RepositoryRef,
    path: string,
    headers: Record<string, string | Buffer>,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const scheme = isLoopback(repo.registry) ? "http" : "https";
    const url = `${scheme}://${repo.registry}/v2/${repo.repository}/${path}`;
    const { body: payload, ...plain } = headers;
    const send = async (auth?: string) => {
      try {
        const res = await request(url, {
          method,
          headers: { ...(plain as Record<string, string>), ...(auth ? { authorization: auth } : {}) },
          body: payload,
          headersTimeout: 30_000,
          bodyTimeout: 60_000,
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        return { status: res.statusCode, headers: res.headers, body };
      } catch (error) {
        throw new RegistryError(`${method} ${url} failed: ${(error as Error).message}`, {
          context: { registry: repo.registry },
          hint: "check that the registry is up and reachable",
          cause: error,
        });
      }
    };
    const key = `${repo.registry}/${repo.repository}`;
    let res = await send(this.#tokens.get(key) ?? this.#basic());
    if (res.status === 401) {
      const challenge = String(res.headers["www-authenticate"] ?? "");
      const token = await this.#bearer(challenge);
      if (token) {
        this.#tokens.set(key, `Bearer ${token}`);
        res = await send(`Bearer ${token}`);
      }
    }
    return res;
  }

  #basic(): string | undefined {
    if (!this.#credentials) return undefined;
    const { username, password } = this.#credentials;
    return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
  }

  /** The distribution token flow: GET realm?service=&scope= with Basic credentials when we have them. */
  async #bearer(challenge: string): Promise<string | undefined> {
    if (!/^Bearer /i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params["realm"]) return undefined;
    const url = new URL(params["realm"]);
    if (params["service"]) url.searchParams.set("service", params["service"]);
    if (params["scope"]) url.searchParams.set("scope", params["scope"]);
    const basic = this.#basic();
    const res = await request(url, { headers: basic ? { authorization: basic } : {} });
    const doc = (await res.body.json()) as { token?: string; access_token?: string };
    return doc.token ?? doc.access_token;
  }
}
