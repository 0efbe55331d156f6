// Test inputs: a lock and a build report with made-up digests (the shape is the real contract; the values only need
// to be well-formed, since these unit tests never contact a registry).
import { createHash } from "node:crypto";
import type { LockFile } from "@e2e3d/oci";
import { parseBuildReport } from "../src/images.js";
import { buildModel, LOCK_NAMES, type ProfileName, renderAll, resolveImages } from "../src/index.js";

export const fakeDigest = (seed: string) => `sha256:${createHash("sha256").update(seed).digest("hex")}`;

const SOURCES: Record<string, string> = {
  [LOCK_NAMES.objectStore]: "quay.io/minio/minio",
  [LOCK_NAMES.postgres]: "docker.io/library/postgres",
  [LOCK_NAMES.redis]: "docker.io/library/redis",
  [LOCK_NAMES.prometheus]: "docker.io/prom/prometheus",
  [LOCK_NAMES.grafana]: "docker.io/grafana/grafana",
  [LOCK_NAMES.nginx]: "docker.io/library/nginx",
  [LOCK_NAMES.statsdExporter]: "docker.io/prom/statsd-exporter",
};

export const LOCK: LockFile = {
  version: 1,
  images: Object.fromEntries(
    Object.entries(SOURCES).map(([name, source]) => [
      name,
      {
        source,
        tag: "1.0.0",
        digest: fakeDigest(name),
        mediaType: "application/vnd.oci.image.index.v1+json",
        platforms: { "linux/amd64": fakeDigest(`${name}-amd64`) },
        resolvedAt: "2026-11-28T00:00:00.000Z",
      },
    ]),
  ),
};

export const BUILD_REPORT = parseBuildReport(
  JSON.stringify({
    images: ["reconstruction", "reconstruction-gpu", "airflow"].map((name) => ({
      name,
      reference: `127.0.0.1:5102/e2e3d/${name}@${fakeDigest(name)}`,
    })),
  }),
  "test-build-report.json",
);

export const PRIVATE = "127.0.0.1:5102";

export function rendered(profile: ProfileName) {
  const model = buildModel({ profile });
  const images = resolveImages(model, {
    lock: LOCK,
    lockSource: "test-lock",
    buildReport: BUILD_REPORT,
    buildReportSource: "test-report",
    privateRegistry: PRIVATE,
  });
  return { model, images, files: renderAll(model, images) };
}
