// The stand-in images the lab builds for third-party images it cannot pull. One entry per image in
// docker/lab/images.yaml (the unit test checks they agree). Their Dockerfiles live in docker/lab/<directory>/.
//
// Tags must tell the truth about the software inside. For Debian packages the tag is derived from the version the
// Debian archive resolves for the lab base; `tag` below is what images.yaml promises, and a mismatch stops the build
// with a drift error instead of pushing a tag that lies.
//
// The catalog is also the one source of each image's metadata: the lab derives the OCI labels from it (./labels.ts)
// and passes them to `docker build --label`; the Dockerfiles carry none.

export interface DebianSource {
  kind: "debian";
  /** The package whose version the tag reports; the Dockerfile installs it (and same-source packages) at that version. */
  package: string;
}

export interface GoSource {
  kind: "go";
  /** Go module path, fetched from the Go module proxy. */
  module: string;
  /** Package to `go install` (the main package of the binary). */
  installPath: string;
  /** Pinned module version. */
  version: string;
  /** Name of the built binary; the Dockerfile copies it from its build context. */
  binary: string;
  /** Extra -ldflags (e.g. the version the binary reports about itself; `go install` does not stamp it). */
  ldflags?: string;
}

export interface StandIn {
  /** Name in docker/lab/images.yaml (and in the lock). */
  name: string;
  /** Directory under docker/lab/ with the Dockerfile. */
  directory: string;
  /** The real image's repository path, kept in the lab upstream (origin/path). */
  repository: string;
  source: DebianSource | GoSource;
  /** Image title label; default "<name> (E2E3D lab stand-in)". */
  title?: string;
  /** More about what is inside, in parentheses after the package and version in the description label. */
  about?: string;
  /** The tag images.yaml promises. */
  tag: string;
  /** The truthful tag for the version actually resolved (Debian version or Go module version). */
  tagFor(version: string): string;
}

/** The upstream part of a Debian version: no epoch, no Debian revision, no repack suffix ("+ds", "+dfsg"). */
export function debianUpstreamVersion(debianVersion: string): string {
  const noEpoch = debianVersion.replace(/^\d+:/, "");
  const dash = noEpoch.lastIndexOf("-");
  const upstream = dash > 0 ? noEpoch.slice(0, dash) : noEpoch;
  return upstream.replace(/[+~](ds|dfsg)\d*$/, "");
}

export const STATSD_EXPORTER_VERSION = "v0.31.0";
export const VERSITYGW_VERSION = "v1.8.0";

export const STAND_INS: readonly StandIn[] = [
  {
    name: "redis",
    directory: "redis",
    repository: "docker.io/library/redis",
    source: { kind: "debian", package: "redis-server" },
    tag: "7.0.15",
    tagFor: debianUpstreamVersion,
  },
  {
    name: "postgres",
    directory: "postgres",
    repository: "docker.io/library/postgres",
    source: { kind: "debian", package: "postgresql-15" },
    // The major version only: bookworm's point releases move postgresql-15's minor (15.18 → 15.20...), and the
    // base is debootstrapped fresh per machine, so a minor tag would drift under CI. The labels carry the exact version.
    tag: "15",
    tagFor: (v) => debianUpstreamVersion(v).split(".")[0] ?? v,
  },
  {
    name: "prometheus",
    directory: "prometheus",
    repository: "docker.io/prom/prometheus",
    source: { kind: "debian", package: "prometheus" },
    about: "incl. promtool",
    tag: "v2.42.0",
    tagFor: (v) => `v${debianUpstreamVersion(v)}`,
  },
  {
    name: "nginx",
    directory: "nginx",
    repository: "docker.io/library/nginx",
    source: { kind: "debian", package: "nginx" },
    tag: "1.22.1",
    tagFor: debianUpstreamVersion,
  },
  {
    name: "statsd-exporter",
    directory: "statsd-exporter",
    repository: "docker.io/prom/statsd-exporter",
    source: {
      kind: "go",
      module: "github.com/prometheus/statsd_exporter",
      installPath: "github.com/prometheus/statsd_exporter",
      version: STATSD_EXPORTER_VERSION,
      binary: "statsd_exporter",
      ldflags: `-X github.com/prometheus/common/version.Version=${STATSD_EXPORTER_VERSION.slice(1)}`,
    },
    tag: STATSD_EXPORTER_VERSION,
    tagFor: (v) => v,
  },
  {
    // Not MinIO: the tag names the server that is inside (see docker/lab/README.md for why versitygw).
    name: "minio",
    directory: "minio",
    repository: "quay.io/minio/minio",
    title: "S3 object server versitygw (E2E3D lab stand-in for minio)",
    about: "NOT MinIO: Versity S3 Gateway, posix backend",
    source: {
      kind: "go",
      module: "github.com/versity/versitygw",
      installPath: "github.com/versity/versitygw/cmd/versitygw",
      version: VERSITYGW_VERSION,
      binary: "versitygw",
      ldflags: `-X main.Version=${VERSITYGW_VERSION} -X main.Build=go-module-proxy`,
    },
    tag: `versitygw-${VERSITYGW_VERSION}`,
    tagFor: (v) => `versitygw-${v}`,
  },
];

/** Debian packages whose candidate versions the lab resolves for the base. */
export const debianPackages = (standIns: readonly StandIn[] = STAND_INS): string[] =>
  standIns.flatMap((s) => (s.source.kind === "debian" ? [s.source.package] : []));
