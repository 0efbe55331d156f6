// What an image in a registry contains, read from its config and layers (whiteouts applied), so tests can compare
// what two engines built or check that a build argument reached the image. No engine is involved.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import type { RegistryClient } from "@e2e3d/oci";
import { extract } from "tar-stream";

export interface ImageFile {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** sha256 of a regular file's bytes; the target of a link. */
  content: string;
  /** The file's text, for the paths the caller asked to keep. */
  text?: string;
}

export interface ImageContents {
  config: {
    User?: string;
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[];
    WorkingDir?: string;
    Labels?: Record<string, string> | null;
  };
  created: string | undefined;
  files: Map<string, ImageFile>;
}

export async function readImageContents(
  client: RegistryClient,
  ref: { registry: string; repository: string; digest: string },
  keepText: readonly string[] = [],
): Promise<ImageContents> {
  const manifest = await client.getManifest(ref);
  const json = JSON.parse(manifest.bytes.toString("utf8")) as {
    config: { digest: string; size: number };
    layers: { digest: string; size: number; mediaType: string }[];
  };
  const config = JSON.parse((await client.getBlob(ref, json.config)).toString("utf8")) as {
    created?: string;
    config?: ImageContents["config"];
  };
  const files = new Map<string, ImageFile>();
  for (const layer of json.layers) {
    const bytes = await client.getBlob(ref, layer);
    const tar = layer.mediaType.endsWith("gzip") ? Readable.from(bytes).pipe(createGunzip()) : Readable.from(bytes);
    const parser = extract();
    tar.pipe(parser);
    for await (const entry of parser) {
      const header = entry.header;
      const path = header.name.replace(/^\.?\//, "").replace(/\/$/, "");
      const base = path.split("/").pop() ?? "";
      const dir = path.slice(0, path.length - base.length);
      if (base === ".wh..wh..opq") {
        for (const key of [...files.keys()])
          if (key.startsWith(dir) && key !== dir.replace(/\/$/, "")) files.delete(key);
      } else if (base.startsWith(".wh.")) {
        const gone = dir + base.slice(4);
        for (const key of [...files.keys()]) if (key === gone || key.startsWith(`${gone}/`)) files.delete(key);
      } else {
        const hash = createHash("sha256");
        const chunks: Buffer[] = [];
        for await (const chunk of entry) {
          hash.update(chunk as Buffer);
          if (keepText.includes(path)) chunks.push(chunk as Buffer);
        }
        files.set(path, {
          ...(keepText.includes(path) ? { text: Buffer.concat(chunks).toString("utf8") } : {}),
          type: header.type ?? "file",
          mode: (header.mode ?? 0) & 0o7777,
          uid: header.uid ?? 0,
          gid: header.gid ?? 0,
          content: header.type === "file" ? hash.digest("hex") : (header.linkname ?? ""),
        });
        continue;
      }
      entry.resume();
    }
  }
  return { config: config.config ?? {}, created: config.created, files };
}
