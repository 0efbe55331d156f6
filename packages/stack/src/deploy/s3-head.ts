// HEAD Bucket with AWS Signature V4, for the smoke test's "buckets exist" check. Hand-written on purpose: one
// unsigned-payload HEAD request does not justify the AWS SDK (megabytes of dependencies) in the deploy path.
import { createHash, createHmac } from "node:crypto";

const sha256 = (data: string) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

export async function headBucket(
  endpoint: string,
  bucket: string,
  credentials: { accessKey: string; secretKey: string },
  region = "us-east-1",
): Promise<number> {
  const url = new URL(`/${bucket}`, endpoint);
  const now = new Date();
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const payloadHash = sha256("");
  const headers: Record<string, string> = {
    host: url.host,
    "x-amz-content-sha256": payloadHash,
    "x-amz-date": amzDate,
  };
  const signed = Object.keys(headers).sort();
  // Method, URI, query, canonical headers (each ending in a newline), signed header names, payload hash.
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h]}\n`).join("");
  const canonical = ["HEAD", url.pathname, "", canonicalHeaders, signed.join(";"), payloadHash].join("\n");
  const scope = `${day}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonical)].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secretKey}`, day), region), "s3"), "aws4_request");
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  const response = await fetch(url, {
    method: "HEAD",
    headers: {
      "x-amz-content-sha256": payloadHash,
      "x-amz-date": amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKey}/${scope}, SignedHeaders=${signed.join(";")}, Signature=${signature}`,
    },
    signal: AbortSignal.timeout(10_000),
  });
  return response.status;
}
