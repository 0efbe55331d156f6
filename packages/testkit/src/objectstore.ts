// The object store, through the AWS SDK (the same S3 protocol the reconstruction service and the DAGs speak):
// uploading an image set, fetching a job's outputs. Credentials are the deployment's generated secrets.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { parseS3Uri } from "@e2e3d/stack";
import { StepError } from "./errors.js";
import { note, phase } from "./phases.js";

export interface ObjectStore {
  client: S3Client;
  endpoint: string;
}

export function objectStore(endpoint: string, accessKey: string, secretKey: string): ObjectStore {
  const config: S3ClientConfig = {
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    // The lab's S3 server does not implement the SDK's newer default checksums on every operation.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  return { client: new S3Client(config), endpoint };
}

// One parser for s3:// URIs, the stack client's (the suites and the users' command read them alike).
export { parseS3Uri, type S3Uri } from "@e2e3d/stack";

const contentType = (name: string) =>
  /\.jpe?g$/i.test(name) ? "image/jpeg" : /\.png$/i.test(name) ? "image/png" : "application/octet-stream";

/** Uploads local files under `s3://…/prefix/<file name>`; returns the set's URI (with a trailing slash). */
export async function uploadImageSet(store: ObjectStore, prefixUri: string, files: string[]): Promise<string> {
  const target = parseS3Uri(prefixUri);
  return phase(`upload ${files.length} file(s) to ${prefixUri}`, async () => {
    let bytes = 0;
    for (const file of files) {
      const body = await readFile(file);
      bytes += body.length;
      await store.client
        .send(
          new PutObjectCommand({
            Bucket: target.bucket,
            Key: `${target.prefix}${basename(file)}`,
            Body: body,
            ContentType: contentType(file),
          }),
        )
        .catch((err: unknown) => {
          throw new StepError(`upload of ${basename(file)} to ${prefixUri} failed: ${(err as Error).message}`, {
            context: { endpoint: store.endpoint },
            cause: err,
          });
        });
    }
    note(`uploaded ${files.length} file(s), ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
    return `s3://${target.bucket}/${target.prefix}`;
  });
}

/** Writes one small object (a `_READY` marker, a test file). */
export async function putObject(store: ObjectStore, uri: string, body: string | Buffer): Promise<void> {
  const { bucket, prefix } = parseS3Uri(uri);
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  await store.client.send(
    new PutObjectCommand({ Bucket: bucket, Key: prefix.replace(/\/$/, ""), Body: bytes, ContentLength: bytes.length }),
  );
}

export async function listKeys(store: ObjectStore, uri: string): Promise<string[]> {
  const { bucket, prefix } = parseS3Uri(uri);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await store.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getObject(store: ObjectStore, bucket: string, key: string): Promise<Buffer> {
  const response = await store.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

export interface JobOutputs {
  uri: string;
  /** Object names relative to the output prefix. */
  names: string[];
  /** report.json, parsed. */
  report: Record<string, unknown>;
  sizes: Record<string, number>;
}

/** Lists a job's output prefix, reads its report.json, and (with `downloadTo`) writes every object there. */
export async function fetchOutputs(
  store: ObjectStore,
  outputUri: string,
  options: { downloadTo?: string } = {},
): Promise<JobOutputs> {
  return phase(`fetch outputs ${outputUri}`, async () => {
    const { bucket, prefix } = parseS3Uri(outputUri);
    const keys = await listKeys(store, outputUri);
    const names = keys.map((k) => k.slice(prefix.length));
    if (!names.includes("report.json")) {
      throw new StepError(`no report.json under ${outputUri}`, { context: { found: names.join(", ") || "nothing" } });
    }
    const sizes: Record<string, number> = {};
    if (options.downloadTo) await mkdir(options.downloadTo, { recursive: true, mode: 0o755 });
    for (const key of keys) {
      const body = await getObject(store, bucket, key);
      const name = key.slice(prefix.length);
      sizes[name] = body.length;
      if (options.downloadTo && !name.includes("/"))
        await writeFile(join(options.downloadTo, name), body, { mode: 0o644 });
    }
    const report = JSON.parse((await getObject(store, bucket, `${prefix}report.json`)).toString("utf8")) as Record<
      string,
      unknown
    >;
    note(`outputs: ${names.map((n) => `${n} (${sizes[n]} B)`).join(", ")}`);
    return { uri: outputUri, names, report, sizes };
  });
}
