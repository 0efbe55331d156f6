// The image SBOM: CycloneDX 1.5 JSON made with the official CycloneDX library from what the pushed image's own
// layers install (see layers.ts). Deterministic: sorted lists, bom-refs are purls, the serial number derives from the
// image digest and no timestamp is written, so the same image always gives the same document (and referrer digest).
import { createHash } from "node:crypto";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import { type Descriptor, formatReference, type Reference, type RegistryClient, withDigest } from "@e2e3d/oci";
import pLimit from "p-limit";
import { PackageURL } from "packageurl-js";
import { type ImagePackage, type LayerScan, type LayerSource, mergeLayers, SbomError, scanLayer } from "./layers.js";

export const SBOM_ARTIFACT_TYPE = "application/vnd.cyclonedx+json";
/** Annotation on the referrer manifest: readers summarise without fetching the document. */
export const SBOM_COMPONENTS_ANNOTATION = "org.e2e3d.sbom.components";

export interface SbomProgress {
  layer: number;
  layers: number;
  digest: string;
  bytes: number;
  seconds: number;
}

export interface ImageSbom {
  document: Buffer;
  components: number;
  /** Components per purl type (deb, pypi). */
  counts: Record<string, number>;
  layers: number;
  layerBytes: number;
  seconds: number;
}

export function packageUrl(pkg: ImagePackage): string {
  return pkg.type === "deb"
    ? new PackageURL("deb", "debian", pkg.name, pkg.version, { arch: pkg.arch }, undefined).toString()
    : new PackageURL("pypi", undefined, pkg.name, pkg.version, undefined, undefined).toString();
}

/** A stable urn:uuid for the image (RFC 4122 layout, name-based on the digest): same image, same serial number. */
function serialNumber(digest: string): string {
  const h = createHash("sha256").update(`e2e3d-sbom ${digest}`).digest("hex");
  const variant = ((Number.parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The CycloneDX document for `packages` found in the image `repository@digest`. */
export function cycloneDx(image: { repository: string; digest: string }, packages: readonly ImagePackage[]): Buffer {
  const slash = image.repository.lastIndexOf("/");
  const imagePurl = new PackageURL(
    "oci",
    undefined,
    image.repository.slice(slash + 1),
    image.digest,
    { repository_url: image.repository },
    undefined,
  ).toString();
  const bom = new Models.Bom({ serialNumber: serialNumber(image.digest) });
  bom.metadata.component = new Models.Component(Enums.ComponentType.Container, image.repository, {
    version: image.digest,
    bomRef: imagePurl,
    purl: imagePurl,
  });
  for (const pkg of packages) {
    const purl = packageUrl(pkg);
    const properties = new Models.PropertyRepository(pkg.paths.map((p) => new Models.Property("e2e3d:image-path", p)));
    bom.components.add(
      new Models.Component(Enums.ComponentType.Library, pkg.name, {
        version: pkg.version,
        purl,
        bomRef: purl,
        properties,
      }),
    );
  }
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot5));
  return Buffer.from(serializer.serialize(bom, { sortLists: true, space: 0 }));
}

export function countByType(packages: readonly ImagePackage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const pkg of packages) counts[pkg.type] = (counts[pkg.type] ?? 0) + 1;
  return counts;
}

/** The layers of a single-platform image manifest (an index: its linux/amd64 child, else the only child). */
export async function imageLayers(client: RegistryClient, image: Reference): Promise<LayerSource[]> {
  let manifest = await client.getManifest(image);
  if (manifest.parsed.isIndex) {
    const children = manifest.parsed.manifests;
    const child =
      children.find((c) => c.platform?.os === "linux" && c.platform.architecture === "amd64") ??
      (children.length === 1 ? children[0] : undefined);
    if (!child) {
      throw new SbomError(`${formatReference(image)} is an index without a linux/amd64 child`, {
        hint: "pass the digest of one platform's manifest",
      });
    }
    manifest = await client.getManifest(withDigest(image, child.digest));
  }
  const layers: Descriptor[] = manifest.parsed.raw.layers ?? [];
  return layers.map((layer) => ({
    digest: layer.digest,
    mediaType: layer.mediaType,
    size: layer.size,
    open: () => client.readBlob(image, layer),
  }));
}

/** Scans layers (a few at a time: gunzip runs on the thread pool) and merges them in order. */
export async function scanImageLayers(
  layers: readonly LayerSource[],
  onProgress?: (progress: SbomProgress) => void,
): Promise<{ packages: ImagePackage[]; bytes: number }> {
  const started = performance.now();
  const limit = pLimit(3);
  let done = 0;
  let bytes = 0;
  const scans: LayerScan[] = await Promise.all(
    layers.map((layer) =>
      limit(async () => {
        const scan = await scanLayer(layer);
        done++;
        bytes += layer.size;
        onProgress?.({
          layer: done,
          layers: layers.length,
          digest: layer.digest,
          bytes,
          seconds: (performance.now() - started) / 1000,
        });
        return scan;
      }),
    ),
  );
  return { packages: mergeLayers(scans), bytes };
}

/** The SBOM of the image `repository@digest`, read from the registry. */
export async function imageSbom(
  client: RegistryClient,
  image: Reference,
  onProgress?: (progress: SbomProgress) => void,
): Promise<ImageSbom> {
  if (!image.digest) throw new SbomError(`the SBOM is made for a digest, got ${formatReference(image)}`);
  const started = performance.now();
  const layers = await imageLayers(client, image);
  const { packages, bytes } = await scanImageLayers(layers, onProgress);
  const repository = `${image.registry}/${image.repository}`;
  return {
    document: cycloneDx({ repository, digest: image.digest }, packages),
    components: packages.length,
    counts: countByType(packages),
    layers: layers.length,
    layerBytes: bytes,
    seconds: (performance.now() - started) / 1000,
  };
}
