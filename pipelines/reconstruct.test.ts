// The reconstruct entry point refuses bad arguments and bad folders with a clear message and exit 2, before it looks
// for a stack; with no stack to use it says so and exits 1. (The runs themselves, on the
// deployed lab stack: packages/stack/test/fullstack.int.test.ts.)
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "e2e3d-reconstruct-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const cli = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, "reconstruct.ts"), ...args], {
    encoding: "utf8",
    env: { ...process.env, E2E3D_GATEWAY_URL: "", E2E3D_DEPLOY_HOME: join(work, "no-deployments"), ...env },
  });

/** Three files a validation accepts (PNG signature + IHDR, 640x480). */
function pngFolder(): string {
  const dir = join(work, "pngs");
  mkdirSync(dir, { recursive: true });
  for (const n of [1, 2, 3]) {
    const ihdr = Buffer.alloc(25);
    ihdr.writeUInt32BE(13, 0);
    ihdr.write("IHDR", 4, "latin1");
    ihdr.writeUInt32BE(640, 8);
    ihdr.writeUInt32BE(480, 12);
    const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    writeFileSync(join(dir, `v${n}.png`), Buffer.concat([sig, ihdr, Buffer.from(String(n))]));
  }
  return dir;
}

describe("pipelines/reconstruct.ts arguments", () => {
  it("needs a folder", () => {
    const r = cli([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'folder'/);
  });

  it("refuses --options that is not a JSON object", () => {
    const r = cli([pngFolder(), "--options", "{max_image_size: 10"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: --options is not JSON/);
    expect(cli([pngFolder(), "--options", "[1]"]).stderr).toMatch(/--options must be a JSON object/);
  });

  it("refuses an empty folder before looking for a stack (exit 2, JSON with --json)", () => {
    const empty = join(work, "empty");
    mkdirSync(empty, { recursive: true });
    const r = cli([empty, "--json"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/the image folder .* cannot be reconstructed:\n {2}- 0 image\(s\)/);
    expect(r.stderr).toMatch(/fix: put 3 to 2000 overlapping JPEG or PNG photos/);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/cannot be reconstructed/) });
  });

  it("refuses a folder of non-images, naming each file", () => {
    const dir = join(work, "docs");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "readme.txt"), "hello");
    writeFileSync(join(dir, "photo.jpg"), "not a photo");
    const r = cli([dir]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/- photo\.jpg: not a JPEG or PNG file/);
    expect(r.stderr).toMatch(/- readme\.txt: not an image type the service reads/);
  });

  it("says there is no deployment to use (exit 1)", () => {
    const r = cli([pngFolder()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: no deployment in .*no-deployments/);
    expect(r.stderr).toMatch(/fix: deploy the stack first \(npx tsx pipelines\/deploy\.ts\)/);
  });

  it("names the missing connection variables when E2E3D_GATEWAY_URL points elsewhere (exit 2)", () => {
    const r = cli([pngFolder()], { E2E3D_GATEWAY_URL: "http://127.0.0.1:1", E2E3D_S3_SECRET_KEY: "s3-secret-value" });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/E2E3D_S3_ENDPOINT is not set; E2E3D_S3_ACCESS_KEY is not set; E2E3D_AIRFLOW_PASSWORD/);
    expect(r.stderr).not.toContain("s3-secret-value");
  });
});
