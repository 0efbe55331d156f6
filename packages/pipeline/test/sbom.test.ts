// SBOM extraction from crafted layers: real tar streams (tar-stream's packer) gzipped in memory, applied in order
// with OCI whiteouts, then serialised by the CycloneDX library.
import { gzipSync } from "node:zlib";
import { pack as tarPack } from "tar-stream";
import { describe, expect, it } from "vitest";
import {
  type LayerSource,
  mergeLayers,
  parseDpkgStatus,
  parsePythonMetadata,
  SbomError,
  scanLayer,
} from "../src/attest/layers.js";
import { cycloneDx, scanImageLayers } from "../src/attest/sbom.js";

type Entry = { name: string; content?: string; type?: "file" | "directory" | "symlink"; linkname?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on("data", (c) => chunks.push(c as Buffer));
    p.on("end", resolve);
    p.on("error", reject);
  });
  for (const e of entries) {
    if (e.type === "directory") p.entry({ name: e.name, type: "directory" });
    else if (e.type === "symlink") p.entry({ name: e.name, type: "symlink", linkname: e.linkname ?? "x" });
    else p.entry({ name: e.name }, e.content ?? "");
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function layer(entries: Entry[], gzip = true): Promise<LayerSource> {
  const tar = await tarOf(entries);
  const bytes = gzip ? gzipSync(tar) : tar;
  return {
    digest: `sha256:${"1".repeat(64)}`,
    mediaType: gzip ? "application/vnd.docker.image.rootfs.diff.tar.gzip" : "application/vnd.oci.image.layer.v1.tar",
    size: bytes.length,
    async *open() {
      // Small chunks: entries straddle chunk boundaries as they do over the network.
      for (let i = 0; i < bytes.length; i += 1000) yield bytes.subarray(i, i + 1000);
    },
  };
}

const status = (...pkgs: [string, string, string?][]) =>
  pkgs
    .map(
      ([name, version, state = "install ok installed"]) =>
        `Package: ${name}\nStatus: ${state}\nPriority: required\nArchitecture: amd64\nVersion: ${version}\nDescription: ${name}\n two lines\n`,
    )
    .join("\n");

const metadata = (name: string, version: string) =>
  `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\nSummary: x\n\nName: not-this\nVersion: 0\n`;

const names = (pkgs: { type: string; name: string }[]) => pkgs.map((p) => `${p.type}:${p.name}`).sort();

describe("package databases", () => {
  it("lists installed dpkg packages only (removed-with-config and half-installed are left out)", () => {
    const pkgs = parseDpkgStatus(
      status(
        ["bash", "5.2.15-2+b7"],
        ["old", "1.0", "deinstall ok config-files"],
        ["half", "2", "install ok half-installed"],
      ),
    );
    expect(pkgs).toEqual([{ type: "deb", name: "bash", version: "5.2.15-2+b7", arch: "amd64" }]);
  });

  it("reads Name and Version from the METADATA headers, not the description body", () => {
    expect(parsePythonMetadata(metadata("Flask_Cors", "4.0.1"))).toEqual({
      type: "pypi",
      name: "Flask_Cors",
      version: "4.0.1",
    });
    expect(parsePythonMetadata("Summary: none\n")).toBeUndefined();
  });
});

describe("layers with whiteouts", () => {
  it("applies layers in order: later status files win, whiteouts and opaque dirs hide lower packages", async () => {
    const base = await layer([
      { name: "var/lib/dpkg/status", content: status(["bash", "5.2"], ["dpkg", "1.21"], ["curl", "7.88"]) },
      { name: "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", content: metadata("six", "1.16.0") },
      {
        name: "opt/venv/lib/python3.11/site-packages/requests-2.31.0.dist-info/METADATA",
        content: metadata("requests", "2.31.0"),
      },
      { name: "opt/venv/lib/python3.11/site-packages/idna-3.6.dist-info/METADATA", content: metadata("idna", "3.6") },
      { name: "srv/app/numpy-1.26.0.dist-info/METADATA", content: metadata("numpy", "1.26.0") },
    ]);
    const upper = await layer([
      // apt-get purge curl: dpkg rewrites its status file.
      { name: "./var/lib/dpkg/status", content: status(["bash", "5.2"], ["dpkg", "1.21"], ["jq", "1.6"]) },
      // pip uninstall six: a whiteout of its dist-info directory.
      { name: "usr/lib/python3/dist-packages/.wh.six-1.16.0.dist-info" },
      // the venv is replaced wholesale: opaque directory, then new content.
      { name: "opt/venv/lib/python3.11/site-packages/.wh..wh..opq" },
      { name: "opt/venv/lib/python3.11/site-packages/idna-3.7.dist-info/METADATA", content: metadata("idna", "3.7") },
      // a directory above a package removed: everything under it is gone.
      { name: "srv/.wh.app" },
    ]);
    const scans = [await scanLayer(base), await scanLayer(upper)];
    const pkgs = mergeLayers(scans);
    expect(names(pkgs)).toEqual(["deb:bash", "deb:dpkg", "deb:jq", "pypi:idna"]);
    expect(pkgs.find((p) => p.name === "idna")?.version).toBe("3.7");
    // Order matters: the same layers reversed give the base's view back.
    expect(names(mergeLayers([scans[1]!, scans[0]!]))).toContain("deb:curl");
  });

  it("reads uncompressed tar layers, distroless status.d files, and a symlink replacing a database", async () => {
    const a = await layer(
      [
        {
          name: "var/lib/dpkg/status.d/base-files",
          content: "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
        },
        { name: "var/lib/dpkg/status.d/base-files.md5sums", content: "abc  etc/debian_version\n" },
        { name: "app/x-1.0.dist-info/METADATA", content: metadata("x", "1.0") },
      ],
      false,
    );
    const b = await layer([{ name: "app/x-1.0.dist-info/METADATA", type: "symlink", linkname: "/dev/null" }]);
    const pkgs = mergeLayers([await scanLayer(a), await scanLayer(b)]);
    expect(pkgs).toEqual([
      { type: "deb", name: "base-files", version: "12.4", arch: "amd64", paths: ["var/lib/dpkg/status.d/base-files"] },
    ]);
  });

  it("lists a distribution installed twice once, with both paths", async () => {
    const l = await layer([
      { name: "a/PyYAML-6.0.dist-info/METADATA", content: metadata("PyYAML", "6.0") },
      { name: "b/pyyaml-6.0.dist-info/METADATA", content: metadata("pyyaml", "6.0") },
    ]);
    const pkgs = mergeLayers([await scanLayer(l)]);
    expect(pkgs).toHaveLength(1);
    expect(pkgs[0]!.paths).toEqual(["a/PyYAML-6.0.dist-info/METADATA", "b/pyyaml-6.0.dist-info/METADATA"]);
  });

  it("a corrupt layer and an unsupported compression are clear errors", async () => {
    const good = await layer([{ name: "x", content: "y" }]);
    const corrupt: LayerSource = {
      ...good,
      async *open() {
        yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5]);
      },
    };
    await expect(scanLayer(corrupt)).rejects.toThrow(SbomError);
    await expect(scanLayer(corrupt)).rejects.toThrow(/cannot read layer sha256:1111/);
    await expect(scanLayer({ ...good, mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" })).rejects.toThrow(
      /cannot decompress/,
    );
  });
});

describe("CycloneDX document", () => {
  it("is CycloneDX 1.5 with purls and the image as metadata component, byte-identical for the same input", async () => {
    const l = await layer([
      { name: "var/lib/dpkg/status", content: status(["bash", "5.2.15-2+b7"], ["libc6", "2.36-9+deb12u4"]) },
      {
        name: "opt/venv/lib/python3.11/site-packages/Flask_Cors-4.0.1.dist-info/METADATA",
        content: metadata("Flask_Cors", "4.0.1"),
      },
    ]);
    const { packages } = await scanImageLayers([l]);
    const image = { repository: "127.0.0.1:5102/e2e3d/app", digest: `sha256:${"c".repeat(64)}` };
    const doc = cycloneDx(image, packages);
    const json = JSON.parse(doc.toString("utf8"));
    expect(json).toMatchObject({ bomFormat: "CycloneDX", specVersion: "1.5", version: 1 });
    expect(json.serialNumber).toMatch(/^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(json.metadata.timestamp).toBeUndefined();
    expect(json.metadata.component).toMatchObject({ type: "container", name: image.repository, version: image.digest });
    expect(json.components.map((c: { purl: string }) => c.purl).sort()).toEqual([
      "pkg:deb/debian/bash@5.2.15-2+b7?arch=amd64",
      "pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64",
      "pkg:pypi/flask-cors@4.0.1",
    ]);
    expect(cycloneDx(image, [...packages].reverse()).equals(doc)).toBe(true);
    expect(cycloneDx({ ...image, digest: `sha256:${"d".repeat(64)}` }, packages).equals(doc)).toBe(false);
  });
});
