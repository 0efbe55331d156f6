// Reads what an image installs, straight from its layers (no Docker engine): each layer is streamed, gunzipped and
// walked as a tar; only the package databases are kept (dpkg status, status.d, Python *.dist-info/METADATA). The
// layers are applied in order with OCI whiteouts, so a package removed by a later layer is not listed.
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { PipelineError } from "../errors.js";

export interface DebPackage {
  type: "deb";
  name: string;
  version: string;
  arch: string;
}
export interface PythonDistribution {
  type: "pypi";
  name: string;
  version: string;
}
export type ImagePackage = (DebPackage | PythonDistribution) & {
  /** Where in the image the package database said so (several paths when installed more than once). */
  paths: string[];
};

/** One layer as the scanner needs it: its media type (compression) and a way to stream its bytes. */
export interface LayerSource {
  digest: string;
  mediaType: string;
  size: number;
  open(): AsyncIterable<Buffer>;
}

type Found = { kind: "deb"; packages: DebPackage[] } | { kind: "pypi"; dist: PythonDistribution };

/** What one layer contributes: the package files it writes and the paths it deletes from the layers below. */
export interface LayerScan {
  files: Map<string, Found>;
  /** `.wh.<name>`: this path (and everything below it) is gone. */
  whiteouts: string[];
  /** `.wh..wh..opq` in a directory: everything the lower layers had in it is gone. */
  opaqueDirs: string[];
  /** Package-database paths this layer replaced with something that is not a regular file. */
  replaced: string[];
  entries: number;
}

export class SbomError extends PipelineError {}

/** Package databases are small; anything bigger is not one we can trust to parse (and would cost memory). */
const MAX_DATABASE_BYTES = 64 * 1024 * 1024;
const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

type Database = "dpkg-status" | "dpkg-status-d" | "python-metadata";

export function databaseKind(path: string): Database | undefined {
  if (path === "var/lib/dpkg/status") return "dpkg-status";
  if (/^var\/lib\/dpkg\/status\.d\/[^/]+$/.test(path) && !path.endsWith(".md5sums")) return "dpkg-status-d";
  if (/\.dist-info\/METADATA$/.test(path)) return "python-metadata";
  return undefined;
}

export function normalisePath(name: string): string {
  return name.replace(/^(\.\/|\/)+/, "").replace(/\/+$/, "");
}

/** RFC 822-style control paragraphs (dpkg status): blank-line separated, "Field: value", continuation lines indented. */
export function parseControlParagraphs(text: string): Record<string, string>[] {
  const paragraphs: Record<string, string>[] = [];
  let current: Record<string, string> = {};
  let last: string | undefined;
  const flush = () => {
    if (Object.keys(current).length > 0) paragraphs.push(current);
    current = {};
    last = undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === "") {
      flush();
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (last) current[last] += `\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim();
    current[last] = line.slice(colon + 1).trim();
  }
  flush();
  return paragraphs;
}

/** Installed Debian packages from a dpkg status file: half-installed, removed ("config-files") ones are left out. */
export function parseDpkgStatus(text: string): DebPackage[] {
  const packages: DebPackage[] = [];
  for (const p of parseControlParagraphs(text)) {
    const name = p["Package"];
    const version = p["Version"];
    if (!name || !version) continue;
    // status.d files (distroless) carry no Status; the main status file does, and only "installed" counts.
    const status = p["Status"];
    if (status !== undefined && status.split(/\s+/).at(-1) !== "installed") continue;
    packages.push({ type: "deb", name, version, arch: p["Architecture"] ?? "all" });
  }
  return packages;
}

/** Name and version from a wheel's METADATA headers (the body after the first blank line is the description). */
export function parsePythonMetadata(text: string): PythonDistribution | undefined {
  const head = text.split(/\r?\n\r?\n/, 1)[0] ?? "";
  const fields = parseControlParagraphs(head)[0] ?? {};
  const name = fields["Name"];
  const version = fields["Version"];
  return name && version ? { type: "pypi", name, version } : undefined;
}

function parseDatabase(kind: Database, text: string): Found | undefined {
  if (kind === "python-metadata") {
    const dist = parsePythonMetadata(text);
    return dist ? { kind: "pypi", dist } : undefined;
  }
  return { kind: "deb", packages: parseDpkgStatus(text) };
}

function decompressor(layer: LayerSource): NodeJS.ReadWriteStream | undefined {
  const type = layer.mediaType;
  if (type.endsWith("+gzip") || type.endsWith(".gzip") || type.endsWith("tar.gzip")) return createGunzip();
  if (type.endsWith(".tar") || type.endsWith("rootfs.diff.tar")) return undefined;
  throw new SbomError(`layer ${layer.digest} has media type ${type}, which the SBOM reader cannot decompress`, {
    hint: "only gzip and uncompressed tar layers are supported (zstd needs Node 22+); rebuild the image with gzip layers",
  });
}

/** Streams one layer and returns what it contributes; nothing but the package databases is held in memory. */
export async function scanLayer(layer: LayerSource): Promise<LayerScan> {
  const scan: LayerScan = { files: new Map(), whiteouts: [], opaqueDirs: [], replaced: [], entries: 0 };
  const extract = tarExtract();
  const source = Readable.from(layer.open());
  const gunzip = decompressor(layer);
  const fail = (error: Error) => extract.destroy(error);
  source.on("error", fail);
  if (gunzip) {
    gunzip.on("error", fail);
    source.pipe(gunzip).pipe(extract);
  } else {
    source.pipe(extract);
  }
  try {
    for await (const entry of extract) {
      scan.entries++;
      const path = normalisePath(entry.header.name);
      const slash = path.lastIndexOf("/");
      const base = path.slice(slash + 1);
      const dir = slash < 0 ? "" : path.slice(0, slash);
      if (base === OPAQUE) scan.opaqueDirs.push(dir);
      else if (base.startsWith(WHITEOUT))
        scan.whiteouts.push(dir ? `${dir}/${base.slice(WHITEOUT.length)}` : base.slice(WHITEOUT.length));
      const kind = databaseKind(path);
      if (!kind || entry.header.type !== "file") {
        if (kind) scan.replaced.push(path);
        entry.resume();
        continue;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size <= MAX_DATABASE_BYTES) chunks.push(chunk);
      }
      if (size > MAX_DATABASE_BYTES) {
        throw new SbomError(
          `${path} in layer ${layer.digest} is ${size} bytes; a package database over 64 MiB is not read`,
          {
            hint: "check the image: this file is not a normal package database",
          },
        );
      }
      const found = parseDatabase(kind, Buffer.concat(chunks).toString("utf8"));
      if (found) scan.files.set(path, found);
      else scan.replaced.push(path);
    }
  } catch (error) {
    source.destroy();
    if (error instanceof SbomError) throw error;
    throw new SbomError(`cannot read layer ${layer.digest} (${layer.mediaType}): ${(error as Error).message}`, {
      hint: "the layer is not a readable tar stream, or the registry connection failed; retry, then inspect the image",
      cause: error,
    });
  }
  return scan;
}

const under = (path: string, dir: string) => dir === "" || path === dir || path.startsWith(`${dir}/`);

/** Applies layer scans bottom to top (whiteouts hide what is below them) and returns the packages of the result. */
export function mergeLayers(scans: readonly LayerScan[]): ImagePackage[] {
  const files = new Map<string, Found>();
  for (const scan of scans) {
    for (const path of files.keys()) {
      const hidden =
        scan.opaqueDirs.some((dir) => path !== dir && under(path, dir)) ||
        scan.whiteouts.some((gone) => under(path, gone)) ||
        scan.replaced.includes(path);
      if (hidden) files.delete(path);
    }
    for (const [path, found] of scan.files) files.set(path, found);
  }
  const byKey = new Map<string, ImagePackage>();
  for (const [path, found] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const packages = found.kind === "deb" ? found.packages : [found.dist];
    for (const pkg of packages) {
      const key =
        pkg.type === "deb"
          ? `deb ${pkg.name} ${pkg.arch}`
          : `pypi ${pkg.name.toLowerCase().replace(/[-_.]+/g, "-")} ${pkg.version}`;
      const seen = byKey.get(key);
      if (seen) seen.paths.push(path);
      else byKey.set(key, { ...pkg, paths: [path] });
    }
  }
  return [...byKey.values()];
}
