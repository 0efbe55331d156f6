// A user's image folder, checked before anything is uploaded: the types the reconstruction service decodes (JPEG and
// PNG, recognised by their bytes, not only the name), a count and sizes it can work with. Every problem is listed at
// once. The content hash (file names and contents) keys the upload and the DAG run, so the same set is one run.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { InputError } from "./errors.js";

export const IMAGE_LIMITS = {
  /** The service's own rule (pipeline.validate_images): structure from motion needs three overlapping views. */
  minImages: 3,
  maxImages: 2000,
  /** The dense stage's smallest working size (JobOptions.max_image_size >= 64). */
  minSide: 64,
  maxSide: 20_000,
  maxFileBytes: 100 * 1024 * 1024,
  maxTotalBytes: 8 * 1024 * 1024 * 1024,
} as const;

/** The suffixes the reconstruction service reads (pipeline.IMAGE_SUFFIXES). */
export const IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png"] as const;

export interface InputImage {
  path: string;
  name: string;
  type: "jpeg" | "png";
  bytes: number;
  width: number;
  height: number;
  sha256: string;
  md5: string;
}

export interface ImageFolder {
  dir: string;
  images: InputImage[];
  totalBytes: number;
  /** sha256 over the sorted names and contents: the identity of the set. */
  contentHash: string;
  /** Not errors, worth saying (mixed sizes, identical files). */
  warnings: string[];
}

const hasSuffix = (name: string) => IMAGE_SUFFIXES.some((s) => name.toLowerCase().endsWith(s));

/** Width and height from a PNG's IHDR or a JPEG's first SOF marker; undefined when the bytes are not one. */
export function imageDimensions(
  data: Buffer,
): { type: "jpeg" | "png"; width: number; height: number } | { type: "jpeg" | "png" | undefined; error: string } {
  if (data.length >= 24 && data.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    if (data.subarray(12, 16).toString("latin1") !== "IHDR") return { type: "png", error: "PNG without an IHDR chunk" };
    return { type: "png", width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
  }
  if (data.length >= 4 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff) {
    let i = 2;
    while (i + 4 <= data.length) {
      if (data[i] !== 0xff) return { type: "jpeg", error: `corrupt JPEG: no marker at byte ${i}` };
      const marker = data[i + 1]!;
      if (marker === 0xff) {
        i += 1; // fill byte
        continue;
      }
      if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        i += 2;
        continue;
      }
      if (marker === 0xd9 || marker === 0xda) break; // end of image / start of scan before any frame header
      const length = data.readUInt16BE(i + 2);
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
        if (i + 9 > data.length) break;
        return { type: "jpeg", height: data.readUInt16BE(i + 5), width: data.readUInt16BE(i + 7) };
      }
      i += 2 + length;
    }
    return { type: "jpeg", error: "truncated or corrupt JPEG: no frame header (SOF) found" };
  }
  return { type: undefined, error: "not a JPEG or PNG file (its first bytes say otherwise)" };
}

/** Validates a folder of images (files directly in it; dot files are ignored). Throws an InputError listing all. */
export function validateImageFolder(folder: string, limits = IMAGE_LIMITS): ImageFolder {
  const dir = resolve(folder);
  const fix = `put ${limits.minImages} to ${limits.maxImages} overlapping JPEG or PNG photos of one scene directly in the folder`;
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory())
      throw new InputError(`${folder} is not a folder`, { context: { path: dir }, hint: fix });
    entries = readdirSync(dir).sort();
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`cannot read the image folder ${folder}: ${(err as NodeJS.ErrnoException).code ?? err}`, {
      context: { path: dir },
      hint: "give the path of an existing folder of images",
    });
  }
  const problems: string[] = [];
  const images: InputImage[] = [];
  let totalBytes = 0;
  let candidates = 0;
  for (const name of entries) {
    if (name.startsWith(".")) continue;
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) {
      problems.push(`${name}/: a folder (sub-folders are not read; put every image directly in ${basename(dir)})`);
      continue;
    }
    if (!stat.isFile()) {
      problems.push(`${name}: not a regular file`);
      continue;
    }
    if (!hasSuffix(name)) {
      problems.push(`${name}: not an image type the service reads (${IMAGE_SUFFIXES.join(", ")})`);
      continue;
    }
    candidates += 1;
    if (stat.size > limits.maxFileBytes) {
      problems.push(`${name}: ${(stat.size / 2 ** 20).toFixed(0)} MiB, over ${limits.maxFileBytes / 2 ** 20} MiB`);
      continue;
    }
    const data = readFileSync(path);
    const found = imageDimensions(data);
    const expected = /\.png$/i.test(name) ? "png" : "jpeg";
    if ("error" in found) {
      problems.push(`${name}: ${found.error}`);
      continue;
    }
    if (found.type !== expected) {
      problems.push(`${name}: the name says ${expected.toUpperCase()} but the content is ${found.type.toUpperCase()}`);
      continue;
    }
    const small = Math.min(found.width, found.height) < limits.minSide;
    if (small || Math.max(found.width, found.height) > limits.maxSide) {
      problems.push(
        `${name}: ${found.width}x${found.height} px; each side must be ${limits.minSide} to ${limits.maxSide} px`,
      );
      continue;
    }
    totalBytes += data.length;
    images.push({
      path,
      name,
      type: found.type,
      bytes: data.length,
      width: found.width,
      height: found.height,
      sha256: createHash("sha256").update(data).digest("hex"),
      md5: createHash("md5").update(data).digest("hex"),
    });
  }
  if (problems.length === 0 && images.length < limits.minImages)
    problems.push(`${images.length} image(s); a reconstruction needs at least ${limits.minImages} overlapping views`);
  if (candidates > limits.maxImages) problems.push(`${candidates} images; at most ${limits.maxImages} per run`);
  if (totalBytes > limits.maxTotalBytes)
    problems.push(`${(totalBytes / 2 ** 30).toFixed(1)} GiB in all; at most ${limits.maxTotalBytes / 2 ** 30} GiB`);
  if (problems.length > 0) {
    throw new InputError(
      `the image folder ${folder} cannot be reconstructed:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { context: { folder: dir, images: images.length }, hint: fix },
    );
  }
  const warnings: string[] = [];
  const sizes = new Set(images.map((i) => `${i.width}x${i.height}`));
  if (sizes.size > 1)
    warnings.push(`the images have ${sizes.size} different sizes (${[...sizes].slice(0, 4).join(", ")})`);
  const byHash = new Map<string, string[]>();
  for (const i of images) byHash.set(i.sha256, [...(byHash.get(i.sha256) ?? []), i.name]);
  for (const names of byHash.values())
    if (names.length > 1) warnings.push(`identical files: ${names.join(", ")} (they add no view)`);
  return { dir, images, totalBytes, contentHash: contentHash(images), warnings };
}

/** sha256 of `name<TAB>sha256` lines, sorted by name: renaming or changing any image changes it. */
export function contentHash(images: Array<Pick<InputImage, "name" | "sha256">>): string {
  const lines = [...images]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((i) => `${i.name}\t${i.sha256}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}
