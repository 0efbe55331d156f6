// RegistryClient: the OCI distribution API, one method per operation. Every manifest and blob read is hashed while
// it streams and compared with the digest asked for; a mismatch throws before anything built on it is pushed.
import { createHash } from "node:crypto";
import type { Dispatcher } from "undici";
import { Authenticator, type CredentialProvider, defaultCredentials, pullScope, pushScope } from "./auth.js";
import {
  type Descriptor,
  MANIFEST_ACCEPT,
  MediaType,
  normaliseContentType,
  type ParsedManifest,
  parseManifest,
  sha256Digest,
} from "./descriptor.js";
import {
  AuthError,
  DigestMismatchError,
  ManifestError,
  NotFoundError,
  type OciErrorDetails,
  RegistryHttpError,
} from "./errors.js";
import { formatReference, manifestSelector, type Reference } from "./reference.js";
import { header, isRetryableNetworkError, type RequestSpec, Transport, type TransportOptions } from "./transport.js";

export interface RegistryClientOptions extends TransportOptions {
  credentials?: CredentialProvider;
  /** Blobs up to this size are uploaded in one PUT; larger ones in PATCH chunks of `chunkSize`. */
  monolithicMaxBytes?: number;
  chunkSize?: number;
  /** Blob transfers in flight at once during a copy. */
  concurrency?: number;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface Manifest extends ManifestInfo {
  /** The exact bytes the registry served; PUT these, never a re-encoding. */
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface PutManifestResult {
  digest: string;
  /** The registry processed the `subject` field itself (OCI-Subject header): no referrers fallback tag needed. */
  referrersApi: boolean;
}

/** Manifests larger than this are refused (the OCI spec asks registries to accept at least 4 MiB). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_BLOB_RESUMES = 5;

export class RegistryClient {
  readonly transport: Transport;
  readonly auth: Authenticator;
  readonly monolithicMaxBytes: number;
  readonly chunkSize: number;
  readonly concurrency: number;

  constructor(options: RegistryClientOptions = {}) {
    this.transport = new Transport(options);
    this.auth = new Authenticator(this.transport, options.credentials ?? defaultCredentials());
    this.monolithicMaxBytes = options.monolithicMaxBytes ?? 16 * 1024 * 1024;
    this.chunkSize = options.chunkSize ?? 16 * 1024 * 1024;
    this.concurrency = options.concurrency ?? 6;
  }

  /**
   * Where we last saw each blob, per registry ("registry digest" → repository): a later copy into another
   * repository of that registry mounts from there instead of uploading (images share base layers).
   */
  private readonly blobLocations = new Map<string, string>();

  rememberBlob(registry: string, repository: string, digest: string): void {
    this.blobLocations.set(`${registry} ${digest}`, repository);
  }

  knownBlobLocation(registry: string, digest: string): string | undefined {
    return this.blobLocations.get(`${registry} ${digest}`);
  }

  get metrics() {
    return this.transport.metrics;
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Sends a request with authorization, answering a 401 challenge once per new challenge. */
  private async send(spec: RequestSpec, scopes: readonly string[]): Promise<Dispatcher.ResponseData> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.authorization(spec.registry, scopes);
      const response = await this.transport.request({
        ...spec,
        headers: { ...spec.headers, ...(authorization ? { authorization } : {}) },
      });
      if (response.statusCode !== 401) return response;
      await response.body.dump();
      if (attempt >= 2 || !this.auth.learn(spec.registry, header(response.headers, "www-authenticate"), scopes)) {
        throw new AuthError(`${spec.operation}: registry ${spec.registry} refused our credentials (401)`, {
          registry: spec.registry,
          reference: spec.reference,
          operation: spec.operation,
          status: 401,
          hint: "log in (docker login / E2E3D_REGISTRY_CREDENTIALS) with an account that may access this repository",
        });
      }
    }
  }

  /** Turns an unexpected response into a typed error, including the registry's own error code (never headers). */
  private async fail(
    response: Dispatcher.ResponseData,
    details: OciErrorDetails & { operation: string },
    readBody = true,
  ): Promise<never> {
    let detail = "";
    try {
      // A HEAD answer has no body: reading one throws inside undici, outside our promise chain.
      if (!readBody) throw new Error("no body");
      const text = (await response.body.text()).slice(0, 2000);
      const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
      const first = parsed.errors?.[0];
      if (first) detail = `: ${first.code ?? ""} ${first.message ?? ""}`.trimEnd();
    } catch {
      // Not JSON (a proxy's page, an empty body): the status says enough.
    }
    const status = response.statusCode;
    const message = `${details.operation} failed with HTTP ${status}${detail}`;
    if (status === 404) throw new NotFoundError(message, { ...details, status });
    if (status === 403)
      throw new AuthError(message, { ...details, status, hint: "the account lacks access to this repository" });
    throw new RegistryHttpError(message, {
      ...details,
      status,
      hint: status === 429 ? "the registry rate-limits us; retry later or authenticate" : details.hint,
    });
  }

  private path(ref: Reference, suffix: string): string {
    return `/v2/${ref.repository}/${suffix}`;
  }
  /** Every verb on `manifests/<tag or digest>` shares one request shape; only the method and headers/body differ. */
  private manifestRequest(
    ref: Reference,
    method: RequestSpec["method"],
    operation: string,
    extra: Pick<RequestSpec, "headers" | "body"> = {},
  ): RequestSpec {
    return {
      registry: ref.registry,
      method,
      url: this.path(ref, `manifests/${manifestSelector(ref)}`),
      ...extra,
      kind: "manifest",
      operation,
      reference: formatReference(ref),
    };
  }

  async ping(registry: string): Promise<void> {
    const response = await this.send(
      { registry, method: "GET", url: "/v2/", kind: "ping", operation: "ping registry" },
      [],
    );
    if (response.statusCode !== 200) await this.fail(response, { registry, operation: "ping registry" });
    await response.body.dump();
  }

  /** HEAD a manifest: its digest, media type and size, or undefined when it does not exist. */
  async headManifest(ref: Reference): Promise<ManifestInfo | undefined> {
    const operation = "HEAD manifest";
    const reference = formatReference(ref);
    const response = await this.send(
      this.manifestRequest(ref, "HEAD", operation, { headers: { accept: MANIFEST_ACCEPT } }),
      [pullScope(ref.repository)],
    );
    if (response.statusCode !== 200 && response.statusCode !== 404) {
      await this.fail(response, { reference, registry: ref.registry, operation }, false);
    }
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    const digest = header(response.headers, "docker-content-digest");
    const mediaType = normaliseContentType(header(response.headers, "content-type"));
    if (!digest || !mediaType) {
      // Some registries omit these on HEAD: a GET answers authoritatively.
      const manifest = await this.getManifest(ref);
      return { digest: manifest.digest, mediaType: manifest.mediaType, size: manifest.size };
    }
    if (ref.digest && digest !== ref.digest) {
      throw new DigestMismatchError(`registry answered digest ${digest} for ${reference}`, {
        reference,
        registry: ref.registry,
        operation,
      });
    }
    return { digest, mediaType, size: Number(header(response.headers, "content-length") ?? 0) };
  }

  /** GET a manifest's exact bytes, verified against the digest asked for (or the one the registry claims). */
  async getManifest(ref: Reference): Promise<Manifest> {
    const operation = "GET manifest";
    const reference = formatReference(ref);
    const response = await this.send(
      this.manifestRequest(ref, "GET", operation, { headers: { accept: MANIFEST_ACCEPT } }),
      [pullScope(ref.repository)],
    );
    if (response.statusCode !== 200) await this.fail(response, { reference, registry: ref.registry, operation });
    const chunks: Buffer[] = [];
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_MANIFEST_BYTES) {
        response.body.destroy();
        throw new ManifestError(`manifest is larger than ${MAX_MANIFEST_BYTES} bytes`, {
          reference,
          registry: ref.registry,
          operation,
        });
      }
      hash.update(chunk);
      chunks.push(chunk);
    }
    const bytes = Buffer.concat(chunks);
    const digest = `sha256:${hash.digest("hex")}`;
    const expected = ref.digest ?? header(response.headers, "docker-content-digest");
    if (expected && expected !== digest) {
      throw new DigestMismatchError(`manifest content hashes to ${digest}, expected ${expected}`, {
        reference,
        registry: ref.registry,
        operation,
        hint: "the registry or something between us altered the manifest; nothing was pushed",
      });
    }
    const parsed = parseManifest(bytes, header(response.headers, "content-type"), { reference });
    return { digest, mediaType: parsed.mediaType, size: bytes.length, bytes, parsed };
  }

  /** PUT exact manifest bytes under a tag or digest; checks the registry stored the digest of those bytes. */
  async putManifest(ref: Reference, bytes: Buffer, mediaType: string): Promise<PutManifestResult> {
    const operation = "PUT manifest";
    const reference = formatReference(ref);
    const digest = sha256Digest(bytes);
    const response = await this.send(
      this.manifestRequest(ref, "PUT", operation, { headers: { "content-type": mediaType }, body: bytes }),
      [pushScope(ref.repository)],
    );
    if (response.statusCode !== 201 && response.statusCode !== 200) {
      await this.fail(response, { reference, registry: ref.registry, operation, context: { digest, mediaType } });
    }
    await response.body.dump();
    const stored = header(response.headers, "docker-content-digest");
    if (stored && stored !== digest) {
      throw new DigestMismatchError(`registry stored the manifest as ${stored}, we sent ${digest}`, {
        reference,
        registry: ref.registry,
        operation,
      });
    }
    return { digest, referrersApi: header(response.headers, "oci-subject") !== undefined };
  }

  async deleteManifest(ref: Reference): Promise<void> {
    const operation = "DELETE manifest";
    const reference = formatReference(ref);
    const response = await this.send(this.manifestRequest(ref, "DELETE", operation), [
      `repository:${ref.repository}:delete`,
      pushScope(ref.repository),
    ]);
    if (response.statusCode !== 202 && response.statusCode !== 200)
      await this.fail(response, { reference, registry: ref.registry, operation });
    await response.body.dump();
  }

  /** HEAD a blob: its size, or undefined when the repository does not have it. */
  async headBlob(ref: Reference, digest: string): Promise<number | undefined> {
    const operation = "HEAD blob";
    const reference = formatReference(ref);
    const response = await this.send(
      {
        registry: ref.registry,
        method: "HEAD",
        url: this.path(ref, `blobs/${digest}`),
        kind: "blob",
        operation,
        reference,
      },
      [pullScope(ref.repository)],
    );
    if (![200, 404, 302, 307].includes(response.statusCode)) {
      await this.fail(response, { reference, registry: ref.registry, operation, context: { digest } }, false);
    }
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    this.rememberBlob(ref.registry, ref.repository, digest);
    return Number(header(response.headers, "content-length") ?? -1);
  }

  private async blobResponse(ref: Reference, digest: string, offset: number): Promise<Dispatcher.ResponseData> {
    const operation = "GET blob";
    const reference = formatReference(ref);
    const headers: Record<string, string> = offset > 0 ? { range: `bytes=${offset}-` } : {};
    let response = await this.send(
      {
        registry: ref.registry,
        method: "GET",
        url: this.path(ref, `blobs/${digest}`),
        headers,
        kind: "blob",
        operation,
        reference,
      },
      [pullScope(ref.repository)],
    );
    // Registries backed by object stores redirect blob GETs; the redirect target gets no registry credentials.
    for (let hops = 0; [301, 302, 303, 307, 308].includes(response.statusCode) && hops < 3; hops++) {
      const location = header(response.headers, "location");
      await response.body.dump();
      if (!location) break;
      const url = this.transport.resolveUrl(ref.registry, location);
      response = await this.transport.request({
        registry: url.host,
        method: "GET",
        url: url.toString(),
        headers,
        kind: "blob",
        operation,
        reference,
      });
    }
    if (response.statusCode !== 200 && response.statusCode !== 206) {
      await this.fail(response, { reference, registry: ref.registry, operation, context: { digest } });
    }
    return response;
  }

  /**
   * Streams a blob, hashing as it goes. A dropped connection resumes with a Range request where the registry
   * allows it (206), else re-reads from the start and skips what was already delivered. Throws
   * DigestMismatchError after the last byte when the content does not match: consumers must not commit anything
   * before the generator has finished.
   */
  async *readBlob(ref: Reference, descriptor: Pick<Descriptor, "digest" | "size">): AsyncGenerator<Buffer> {
    const hash = createHash("sha256");
    let delivered = 0;
    for (let resumes = 0; ; resumes++) {
      const response = await this.blobResponse(ref, descriptor.digest, delivered);
      let skip = response.statusCode === 206 ? 0 : delivered;
      let position = delivered;
      try {
        for await (const raw of response.body as AsyncIterable<Buffer>) {
          let chunk = raw;
          if (skip > 0) {
            if (chunk.length <= skip) {
              skip -= chunk.length;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          position += chunk.length;
          hash.update(chunk);
          delivered = position;
          this.transport.metrics.blobBytesDownloaded += chunk.length;
          yield chunk;
        }
        break;
      } catch (err) {
        if (resumes < MAX_BLOB_RESUMES && isRetryableNetworkError(err)) continue;
        throw err;
      }
    }
    const digest = `sha256:${hash.digest("hex")}`;
    if (digest !== descriptor.digest || (descriptor.size >= 0 && delivered !== descriptor.size)) {
      throw new DigestMismatchError(
        `blob content hashes to ${digest} (${delivered} bytes), expected ${descriptor.digest} (${descriptor.size} bytes)`,
        {
          reference: formatReference(ref),
          registry: ref.registry,
          operation: "GET blob",
          hint: "the content was altered in the registry or in transit; nothing built on it was committed",
        },
      );
    }
  }

  /** Reads a whole (small) blob into memory, verified. */
  async getBlob(ref: Reference, descriptor: Pick<Descriptor, "digest" | "size">): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.readBlob(ref, descriptor)) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  private async startUpload(ref: Reference, query: string, scopes: string[]): Promise<Dispatcher.ResponseData> {
    return this.send(
      {
        registry: ref.registry,
        method: "POST",
        url: this.path(ref, `blobs/uploads/${query}`),
        kind: "upload",
        operation: query.includes("mount=") ? "mount blob" : "start blob upload",
        reference: formatReference(ref),
      },
      scopes,
    );
  }

  /**
   * Cross-repository mount inside one registry. Returns "mounted", or the upload location the registry opened
   * instead (it may not have the blob, or may not allow mounting) for the caller to upload into.
   */
  async mountBlob(
    target: Reference,
    fromRepository: string,
    digest: string,
  ): Promise<{ mounted: true } | { mounted: false; location: string }> {
    const query = `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(fromRepository)}`;
    const response = await this.startUpload(target, query, [pushScope(target.repository), pullScope(fromRepository)]);
    const location = header(response.headers, "location");
    if (response.statusCode === 201 || (response.statusCode === 202 && location)) {
      await response.body.dump();
      return response.statusCode === 201 ? { mounted: true } : { mounted: false, location: location! };
    }
    return this.fail(response, {
      reference: formatReference(target),
      registry: target.registry,
      operation: "mount blob",
      context: { digest },
    });
  }

  /**
   * Uploads a blob: in one PUT when it is small, else in PATCH chunks. The source may be a Buffer or a stream
   * (e.g. `readBlob` of another registry); the commit (final PUT with the digest) only happens after the source
   * ended without error, so a corrupted or interrupted source never becomes a blob. Returns bytes sent.
   */
  async uploadBlob(
    ref: Reference,
    descriptor: Pick<Descriptor, "digest" | "size">,
    source: Buffer | AsyncIterable<Buffer>,
    location?: string,
  ): Promise<number> {
    const reference = formatReference(ref);
    let url = location;
    if (!url) {
      const response = await this.startUpload(ref, "", [pushScope(ref.repository)]);
      if (response.statusCode !== 202)
        await this.fail(response, { reference, registry: ref.registry, operation: "start blob upload" });
      await response.body.dump();
      url = header(response.headers, "location");
      if (!url)
        throw new RegistryHttpError("registry opened an upload without a Location", {
          reference,
          registry: ref.registry,
          operation: "start blob upload",
        });
    }
    try {
      if (Buffer.isBuffer(source) || descriptor.size <= this.monolithicMaxBytes) {
        const body = Buffer.isBuffer(source) ? source : await collect(source);
        if (Buffer.isBuffer(source) && sha256Digest(body) !== descriptor.digest) {
          throw new DigestMismatchError(
            `refusing to upload: content hashes to ${sha256Digest(body)}, expected ${descriptor.digest}`,
            { reference, operation: "upload blob" },
          );
        }
        await this.commitUpload(ref, url, descriptor.digest, body);
        return body.length;
      }
      return await this.uploadChunked(ref, descriptor, source, url);
    } catch (err) {
      await this.cancelUpload(ref, url);
      throw err;
    }
  }

  private async uploadChunked(
    ref: Reference,
    descriptor: Pick<Descriptor, "digest" | "size">,
    source: AsyncIterable<Buffer>,
    start: string,
  ): Promise<number> {
    const reference = formatReference(ref);
    let url = start;
    let offset = 0;
    let pending: Promise<void> = Promise.resolve();
    // One PATCH in flight while the next chunk is read: reading and sending overlap, chunks stay in order.
    const sendChunk = (chunk: Buffer) => {
      const previous = pending;
      pending = (async () => {
        await previous;
        const first = offset;
        offset += chunk.length;
        const response = await this.send(
          {
            registry: ref.registry,
            method: "PATCH",
            url,
            headers: {
              "content-type": "application/octet-stream",
              "content-range": `${first}-${first + chunk.length - 1}`,
            },
            body: chunk,
            kind: "upload",
            operation: "upload blob chunk",
            reference,
            retry: false,
          },
          [pushScope(ref.repository)],
        );
        if (response.statusCode !== 202)
          await this.fail(response, {
            reference,
            registry: ref.registry,
            operation: "upload blob chunk",
            context: { digest: descriptor.digest, offset: first },
          });
        await response.body.dump();
        url = header(response.headers, "location") ?? url;
        this.transport.metrics.blobBytesUploaded += chunk.length;
      })();
      // Keep a rejected chunk from being reported as unhandled before we await it.
      pending.catch(() => undefined);
    };
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    for await (const chunk of source) {
      buffered.push(chunk);
      bufferedBytes += chunk.length;
      if (bufferedBytes >= this.chunkSize) {
        // At most one chunk in flight and one being filled: memory stays at two chunks.
        await pending;
        sendChunk(Buffer.concat(buffered));
        buffered = [];
        bufferedBytes = 0;
      }
    }
    if (bufferedBytes > 0) sendChunk(Buffer.concat(buffered));
    await pending;
    await this.commitUpload(ref, url, descriptor.digest, Buffer.alloc(0));
    return offset;
  }

  private async commitUpload(ref: Reference, location: string, digest: string, body: Buffer): Promise<void> {
    const reference = formatReference(ref);
    const url = this.transport.resolveUrl(ref.registry, location);
    url.searchParams.set("digest", digest);
    const response = await this.send(
      {
        registry: ref.registry,
        method: "PUT",
        url: url.toString(),
        headers: { "content-type": "application/octet-stream" },
        body,
        kind: "upload",
        operation: "commit blob upload",
        reference,
        // A retried commit after a dropped connection may find the upload gone; the blob HEAD afterwards decides.
        retry: body.length === 0,
      },
      [pushScope(ref.repository)],
    );
    if (response.statusCode !== 201)
      await this.fail(response, {
        reference,
        registry: ref.registry,
        operation: "commit blob upload",
        context: { digest },
      });
    await response.body.dump();
    this.transport.metrics.blobBytesUploaded += body.length;
  }

  private async cancelUpload(ref: Reference, location: string): Promise<void> {
    try {
      const response = await this.send(
        {
          registry: ref.registry,
          method: "DELETE",
          url: location,
          kind: "upload",
          operation: "cancel blob upload",
          retry: false,
        },
        [pushScope(ref.repository)],
      );
      await response.body.dump();
    } catch {
      // Best effort: the registry purges abandoned uploads itself.
    }
  }

  async listTags(ref: Reference): Promise<string[]> {
    const operation = "list tags";
    const reference = formatReference(ref);
    const tags: string[] = [];
    let next: string | undefined = this.path(ref, "tags/list?n=1000");
    while (next) {
      const response: Dispatcher.ResponseData = await this.send(
        { registry: ref.registry, method: "GET", url: next, kind: "tags", operation, reference },
        [pullScope(ref.repository)],
      );
      if (response.statusCode === 404) {
        await response.body.dump();
        return tags;
      }
      if (response.statusCode !== 200) await this.fail(response, { reference, registry: ref.registry, operation });
      const body = (await response.body.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      const link = header(response.headers, "link");
      next = link ? /<([^>]+)>/.exec(link)?.[1] : undefined;
    }
    return tags;
  }

  /**
   * Referrers of a digest: the OCI referrers API where the registry has it, else the tag-schema fallback
   * (`sha256-<hex>` tag holding an index of referrers). `api` says which answered.
   */
  async listReferrers(
    ref: Reference,
    digest: string,
  ): Promise<{ api: boolean; referrers: Descriptor[]; fallbackIndex?: Manifest }> {
    const operation = "list referrers";
    const reference = formatReference(ref);
    const response = await this.send(
      {
        registry: ref.registry,
        method: "GET",
        url: this.path(ref, `referrers/${digest}`),
        headers: { accept: MediaType.ociIndex },
        kind: "referrers",
        operation,
        reference,
      },
      [pullScope(ref.repository)],
    );
    if (response.statusCode === 200) {
      const body = Buffer.from(await response.body.arrayBuffer());
      return { api: true, referrers: parseManifest(body, MediaType.ociIndex, { reference }).manifests };
    }
    if (response.statusCode !== 404 && response.statusCode !== 400 && response.statusCode !== 405) {
      await this.fail(response, { reference, registry: ref.registry, operation });
    }
    await response.body.dump();
    const tagRef: Reference = { registry: ref.registry, repository: ref.repository, tag: referrersTag(digest) };
    if (!(await this.headManifest(tagRef))) return { api: false, referrers: [] };
    const index = await this.getManifest(tagRef);
    return { api: false, referrers: index.parsed.manifests, fallbackIndex: index };
  }
}

/** The tag-schema fallback tag for a digest's referrers (OCI distribution spec 1.1). */
export function referrersTag(digest: string): string {
  return digest.replace(":", "-").slice(0, 128);
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(chunk);
  return Buffer.concat(chunks);
}
