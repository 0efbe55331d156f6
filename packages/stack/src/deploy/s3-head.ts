// HEAD Bucket for the smoke test's "buckets exist" check: the stack's signed S3 client (use/s3.ts).
export { headBucket } from "../use/s3.js";
