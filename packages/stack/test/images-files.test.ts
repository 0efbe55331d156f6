// Contract with the lock pipeline: every third-party image a profile deploys is declared in that profile's images
// file (docker/images.yaml for production and gpu, docker/lab/images.yaml for the lab), under the same name.
import { join } from "node:path";
import { readImagesFile } from "@e2e3d/oci";
import { describe, expect, it } from "vitest";
import { buildModel } from "../src/index.js";

const ROOT = join(import.meta.dirname, "..", "..", "..");
const FILES = { production: "docker/images.yaml", gpu: "docker/images.yaml", lab: "docker/lab/images.yaml" } as const;

describe.each(Object.entries(FILES))("profile %s", (profile, file) => {
  it(`finds every locked image in ${file}`, async () => {
    const declared = new Set((await readImagesFile(join(ROOT, file))).images.map((i) => i.name));
    const needed = buildModel({ profile: profile as keyof typeof FILES }).services.flatMap((s) =>
      s.image.kind === "lock" ? [s.image.name] : [],
    );
    expect(needed.length).toBeGreaterThanOrEqual(profile === "lab" ? 6 : 7);
    expect(needed.filter((n) => !declared.has(n))).toEqual([]);
  });
});
