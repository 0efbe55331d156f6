// The object store's S3 API with AWS Signature V4: what a user of a deployed stack needs (put, get, head, list) and
// the deploy's "bucket exists" smoke check. Hand-written on purpose, as the smoke check's HEAD was: a few signed
// requests do not justify the AWS SDK (megabytes of dependencies) in the deploy path and the user command.
import { createHash, createHmac } from "node:crypto";
import { UseError } from "./errors.js";

export interface S3Credentials {
  accessKey: string;
  secretKey: string;
}

export interface S3Connection extends S3Credentials {
  /** http(s)://host:port of the S3 API. */
  endpoint: string;
  region?: string;
}

export interface S3Response {
  status: number;
  headers: Headers;
  body: Buffer;
}

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
export const uriEncode = (value: string, keepSlash = false): string =>
  encodeURIComponent(value)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(keepSlash ? /%2F/g : /$^/, "/");

export interface SignInput {
  method: string;
  url: URL;
  /** Query parameters (signed, sorted). */
  query?: Record<string, string>;
  payloadHash: string;
  credentials: S3Credentials;
  region: string;
  now: Date;
}

/** The headers a SigV4-signed request carries (host is implied by the URL). Exported for the unit test's vector. */
export function signV4(input: SignInput): Record<string, string> {
  const amzDate = input.now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    host: input.url.host,
    "x-amz-content-sha256": input.payloadHash,
    "x-amz-date": amzDate,
  };
  const signed = Object.keys(headers).sort();
  const query = Object.entries(input.query ?? {})
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  // Method, URI, query, canonical headers (each ending in a newline), signed header names, payload hash.
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]}\n`).join("");
  const canonical = [
    input.method,
    input.url.pathname,
    query,
    canonicalHeaders,
    signed.join(";"),
    input.payloadHash,
  ].join("\n");
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretKey}`, day), input.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return {
    "x-amz-content-sha256": input.payloadHash,
    "x-amz-date": amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKey}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`,
  };
}

/** One signed request, path style (`/<bucket>/<key>`): what every S3 server here (MinIO, versitygw) accepts. */
export async function s3Request(
  s3: S3Connection,
  request: {
    method: "GET" | "PUT" | "HEAD" | "DELETE";
    bucket: string;
    key?: string;
    query?: Record<string, string>;
    body?: Buffer;
    contentType?: string;
    timeoutMs?: number;
  },
): Promise<S3Response> {
  const path = `/${request.bucket}${request.key ? `/${uriEncode(request.key, true)}` : ""}`;
  const url = new URL(path, s3.endpoint);
  const query = request.query ?? {};
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const body = request.body ?? Buffer.alloc(0);
  const headers = signV4({
    method: request.method,
    url,
    query,
    payloadHash: sha256(body),
    credentials: s3,
    region: s3.region ?? "us-east-1",
    now: new Date(),
  });
  // URLSearchParams encodes spaces as "+"; the signature was computed over %20, so the query is written out here.
  const target = `${url.origin}${url.pathname}${Object.keys(query).length ? `?${canonicalQuery(query)}` : ""}`;
  let response: Response;
  try {
    response = await fetch(target, {
      method: request.method,
      headers: { ...headers, ...(request.contentType ? { "content-type": request.contentType } : {}) },
      ...(request.body ? { body: request.body } : {}),
      signal: AbortSignal.timeout(request.timeoutMs ?? 60_000),
    });
  } catch (err) {
    throw new UseError(`the object store at ${s3.endpoint} does not answer (${describeFetchError(err)})`, {
      context: { request: `${request.method} ${path}` },
      hint: "is the stack deployed and running? npx tsx pipelines/deploy.ts --status",
      cause: err,
    });
  }
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

const canonicalQuery = (query: Record<string, string>) =>
  Object.entries(query)
    .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
    .join("&");

/** The cause behind undici's bare "fetch failed" (ECONNREFUSED, a timeout...). */
export interface S3Uri {
  bucket: string;
  /** Without a leading slash; ends with "/" unless empty. */
  prefix: string;
}

/** s3://bucket/prefix as a bucket and a prefix (a "/" added where it lacks one, so a listing stays inside it). */
export function parseS3Uri(uri: string): S3Uri {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(uri);
  if (!match) throw new UseError(`not an s3:// URI: ${uri}`, { hint: "write s3://bucket/prefix/" });
  const prefix = match[2] ?? "";
  return { bucket: match[1]!, prefix: prefix && !prefix.endsWith("/") ? `${prefix}/` : prefix };
}

export function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** The S3 error code in an XML error body (`<Code>NoSuchBucket</Code>`), for messages. */
const s3ErrorCode = (body: Buffer) => /<Code>([^<]+)<\/Code>/.exec(body.toString("utf8"))?.[1];

function failed(what: string, response: S3Response, hint?: string): UseError {
  const code = s3ErrorCode(response.body);
  return new UseError(`${what}: HTTP ${response.status}${code ? ` ${code}` : ""}`, {
    ...(hint
      ? { hint }
      : response.status === 403
        ? { hint: "the object store refused the credentials: use the deployment's secrets (see --help)" }
        : {}),
  });
}

export async function headBucket(
  endpoint: string,
  bucket: string,
  credentials: S3Credentials,
  region = "us-east-1",
): Promise<number> {
  return (await s3Request({ endpoint, region, ...credentials }, { method: "HEAD", bucket, timeoutMs: 10_000 })).status;
}

export async function putObject(
  s3: S3Connection,
  bucket: string,
  key: string,
  body: Buffer,
  contentType = "application/octet-stream",
): Promise<void> {
  const response = await s3Request(s3, { method: "PUT", bucket, key, body, contentType, timeoutMs: 300_000 });
  if (response.status !== 200) throw failed(`upload of s3://${bucket}/${key}`, response);
}

export async function getObject(s3: S3Connection, bucket: string, key: string): Promise<Buffer> {
  const response = await s3Request(s3, { method: "GET", bucket, key, timeoutMs: 300_000 });
  if (response.status !== 200) throw failed(`download of s3://${bucket}/${key}`, response);
  return response.body;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
}

/** HEAD of one object: its size and ETag, or undefined when it does not exist. */
export async function headObject(s3: S3Connection, bucket: string, key: string): Promise<ObjectInfo | undefined> {
  const response = await s3Request(s3, { method: "HEAD", bucket, key });
  if (response.status === 404) return undefined;
  if (response.status !== 200) throw failed(`HEAD s3://${bucket}/${key}`, response);
  return {
    key,
    size: Number(response.headers.get("content-length") ?? "0"),
    etag: (response.headers.get("etag") ?? "").replace(/"/g, ""),
  };
}

const xmlText = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

/** Every object under a prefix (ListObjectsV2, all pages), sorted by key. */
export async function listObjects(s3: S3Connection, bucket: string, prefix: string): Promise<ObjectInfo[]> {
  const found: ObjectInfo[] = [];
  let token: string | undefined;
  do {
    const response = await s3Request(s3, {
      method: "GET",
      bucket,
      query: { "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) },
    });
    if (response.status !== 200) throw failed(`listing s3://${bucket}/${prefix}`, response);
    const xml = response.body.toString("utf8");
    for (const match of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
      const item = match[1]!;
      const key = /<Key>([\s\S]*?)<\/Key>/.exec(item)?.[1];
      if (key === undefined) continue;
      found.push({
        key: xmlText(key),
        size: Number(/<Size>(\d+)<\/Size>/.exec(item)?.[1] ?? "0"),
        etag: xmlText(/<ETag>([\s\S]*?)<\/ETag>/.exec(item)?.[1] ?? "").replace(/"/g, ""),
      });
    }
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
    token = truncated ? xmlText(/<NextContinuationToken>([\s\S]*?)<\/NextContinuationToken>/.exec(xml)?.[1] ?? "") : "";
    if (truncated && !token) throw new UseError(`listing s3://${bucket}/${prefix}: truncated without a continuation`);
  } while (token);
  return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
