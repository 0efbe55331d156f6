// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfile text spells ${VAR} literally
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listContextFiles, stageContext } from "../src/build/context.js";
import { LOCAL_ARTIFACTS } from "../src/build/images.js";
import { type BuildInputs, computeInputDigest, inputDigestTag } from "../src/build/input-digest.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "images", "app");
const BASE = `sha256:${"a".repeat(64)}`;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "e2e3d-digest-test-"));
  await cp(FIXTURE, dir, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The digest the pipeline computes for the fixture, with overrides for one input at a time. */
async function digest(overrides: Partial<Pick<BuildInputs, "buildArgs" | "target" | "baseDigest">> = {}) {
  const spec = { dir, dockerfile: join(dir, "Dockerfile"), include: ["Dockerfile", "src", ".dockerignore"] };
  const files = await listContextFiles(spec);
  return computeInputDigest({
    dockerfile: { path: "Dockerfile", content: await readFile(spec.dockerfile) },
    files,
    buildArgs: overrides.buildArgs ?? { BASE_IMAGE: `r/debian@${BASE}` },
    target: overrides.target,
    baseDigest: overrides.baseDigest ?? BASE,
  });
}

describe("input digest", () => {
  it("is stable for the same inputs and has the tag form in-<64 hex>", async () => {
    const first = await digest();
    expect(first).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(await digest()).toBe(first);
    expect(inputDigestTag(first)).toBe(`in-${first.slice(7)}`);
  });

  it.each([
    ["the Dockerfile", () => writeFile(join(dir, "Dockerfile"), "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n")],
    ["a context file's content", () => writeFile(join(dir, "src", "data.txt"), "version 2\n")],
    ["a new context file", () => writeFile(join(dir, "src", "extra.txt"), "new\n")],
    ["a context file's mode", () => chmod(join(dir, "src", "data.txt"), 0o755)],
    ["the ignore rules", () => writeFile(join(dir, ".dockerignore"), "tmp/\n")],
  ])("changes with %s", async (_what, change) => {
    const before = await digest();
    await change();
    expect(await digest()).not.toBe(before);
  });

  it("changes with a build arg, the target and the base digest", async () => {
    const before = await digest();
    expect(await digest({ buildArgs: { BASE_IMAGE: `r/debian@${BASE}`, GREETING: "hi" } })).not.toBe(before);
    expect(await digest({ target: "runtime" })).not.toBe(before);
    expect(await digest({ baseDigest: `sha256:${"b".repeat(64)}` })).not.toBe(before);
  });

  it("does not change with files outside the include list, ignored files or SOURCE_DATE_EPOCH", async () => {
    const before = await digest();
    await writeFile(join(dir, "NOTES.md"), "edited notes\n"); // outside the include list
    await writeFile(join(dir, "src", "debug.log"), "ignored by *.log\n"); // .dockerignore
    await cp(join(dir, "src"), join(dir, "tmp"), { recursive: true }); // .dockerignore tmp/
    expect(await digest({ buildArgs: { BASE_IMAGE: `r/debian@${BASE}`, SOURCE_DATE_EPOCH: "1700000000" } })).toBe(
      before,
    );
  });

  it("lists exactly what the context sends and stages only that", async () => {
    await writeFile(join(dir, "src", "debug.log"), "ignored\n");
    const spec = { dir, dockerfile: join(dir, "Dockerfile"), include: ["Dockerfile", "src", ".dockerignore"] };
    const files = await listContextFiles(spec);
    expect(files.map((f) => f.path)).toEqual([".dockerignore", "Dockerfile", "src/data.txt", "src/hello.sh"]);
    expect(files.find((f) => f.path === "src/hello.sh")?.mode).toBe(0o755);
    const staged = await stageContext(spec, files);
    try {
      expect(
        (await listContextFiles({ dir: staged.dir, dockerfile: join(staged.dir, staged.dockerfile) })).map(
          (f) => f.sha256,
        ),
      ).toEqual(files.map((f) => f.sha256));
    } finally {
      await staged.remove();
    }
  });

  it("leaves local tool artifacts (bytecode, caches, virtualenvs) out of the context", async () => {
    await mkdir(join(dir, "src", "__pycache__"), { recursive: true });
    await writeFile(join(dir, "src", "__pycache__", "mod.cpython-311.pyc"), "bytecode");
    await mkdir(join(dir, ".venv", "bin"), { recursive: true });
    await writeFile(join(dir, ".venv", "bin", "python"), "");
    const files = await listContextFiles({ dir, dockerfile: join(dir, "Dockerfile"), exclude: LOCAL_ARTIFACTS });
    expect(files.map((f) => f.path)).toEqual([
      ".dockerignore",
      "Dockerfile",
      "NOTES.md",
      "src/data.txt",
      "src/hello.sh",
    ]);
  });

  it("honours a Dockerfile-specific ignore file over the context's", async () => {
    await writeFile(join(dir, "Dockerfile.dockerignore"), "src/data.txt\n");
    const files = await listContextFiles({ dir, dockerfile: join(dir, "Dockerfile") });
    expect(files.map((f) => f.path)).not.toContain("src/data.txt");
    expect(files.map((f) => f.path)).toContain("NOTES.md");
  });
});
