// The stack client's pure parts: the image folder's validation and content hash, the run key, the mesh check, the
// S3 signature (AWS's published examples), the connection from the environment, choosing a deployment, the smoke
// job's quality bar, and the deploy summary's smoke-job line.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DeploySummary } from "../src/deploy/deploy.js";
import { renderDeploySummary } from "../src/deploy/summary.js";
import {
  checkPlyMesh,
  chooseProject,
  connectionFromEnv,
  contentHash,
  deployedProjects,
  InputError,
  imageDimensions,
  runKey,
  SMOKE_MIN_FSCORE_AT_2PCT,
  signV4,
  TARGET_FSCORE_AT_2PCT,
  UseError,
  validateImageFolder,
} from "../src/index.js";

const root = mkdtempSync(join(tmpdir(), "e2e3d-use-test-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A PNG's signature and IHDR (what the validation reads; the pixels are the service's to decode). */
function png(width: number, height: number, extra = "x"): Buffer {
  const ihdr = Buffer.alloc(25);
  ihdr.writeUInt32BE(13, 0);
  ihdr.write("IHDR", 4, "latin1");
  ihdr.writeUInt32BE(width, 8);
  ihdr.writeUInt32BE(height, 12);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ihdr, Buffer.from(extra)]);
}

/** SOI, an APP0 segment, then SOF0 with the frame size. */
function jpeg(width: number, height: number, extra = "x"): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from("JFIF\0"), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 255, width >> 8, width & 255, 3]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.alloc(9), Buffer.from(extra)]);
}

function folder(name: string, files: Record<string, Buffer | string | null>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, body] of Object.entries(files)) {
    if (body === null) mkdirSync(join(dir, file));
    else writeFileSync(join(dir, file), body);
  }
  return dir;
}

const errorOf = (fn: () => unknown): InputError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error("expected an InputError");
};

describe("image folder validation", () => {
  it("reads JPEG and PNG sizes from their bytes", () => {
    expect(imageDimensions(png(640, 480))).toEqual({ type: "png", width: 640, height: 480 });
    expect(imageDimensions(jpeg(1024, 768))).toEqual({ type: "jpeg", width: 1024, height: 768 });
    expect(imageDimensions(Buffer.from("hello"))).toMatchObject({ error: expect.stringMatching(/not a JPEG or PNG/) });
    expect(imageDimensions(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 4]))).toMatchObject({
      type: "jpeg",
      error: expect.stringMatching(/no frame header/),
    });
  });

  it("accepts a folder of images, ignoring dot files, and hashes names and contents", () => {
    const dir = folder("good", {
      "a.jpg": jpeg(640, 480, "1"),
      "b.JPEG": jpeg(640, 480, "2"),
      "c.png": png(640, 480, "3"),
      ".DS_Store": "junk",
    });
    const set = validateImageFolder(dir);
    expect(set.images.map((i) => [i.name, i.type, i.width, i.height])).toEqual([
      ["a.jpg", "jpeg", 640, 480],
      ["b.JPEG", "jpeg", 640, 480],
      ["c.png", "png", 640, 480],
    ]);
    expect(set.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(set.warnings).toEqual([]);
    // Same names and bytes → same hash, whatever the order; a rename or one changed byte → another.
    const same = set.images.map((i) => ({ name: i.name, sha256: i.sha256 }));
    expect(contentHash([...same].reverse())).toBe(set.contentHash);
    expect(contentHash([{ ...same[0]!, name: "z.jpg" }, ...same.slice(1)])).not.toBe(set.contentHash);
    expect(contentHash([{ ...same[0]!, sha256: "0".repeat(64) }, ...same.slice(1)])).not.toBe(set.contentHash);
  });

  it("refuses an empty folder", () => {
    const err = errorOf(() => validateImageFolder(folder("empty", {})));
    expect(err.message).toMatch(/0 image\(s\); a reconstruction needs at least 3/);
    expect(err.hint).toMatch(/JPEG or PNG/);
  });

  it("lists every file that is not a usable image, and why", () => {
    const dir = folder("bad", {
      "a.jpg": jpeg(640, 480),
      "b.jpg": jpeg(640, 480, "b"),
      "c.jpg": jpeg(640, 480, "c"),
      "notes.txt": "hello",
      "fake.jpg": "not really a jpeg",
      "swapped.jpg": png(640, 480),
      "tiny.png": png(10, 10),
      "raw.tif": "II*\0",
      nested: null,
    });
    const err = errorOf(() => validateImageFolder(dir));
    expect(err.message).toContain("cannot be reconstructed");
    for (const expected of [
      /notes\.txt: not an image type the service reads \(\.jpg, \.jpeg, \.png\)/,
      /fake\.jpg: not a JPEG or PNG file/,
      /swapped\.jpg: the name says JPEG but the content is PNG/,
      /tiny\.png: 10x10 px; each side must be 64/,
      /raw\.tif: not an image type/,
      /nested\/: a folder/,
    ])
      expect(err.message).toMatch(expected);
    expect(err.message).not.toMatch(/- a\.jpg/);
  });

  it("refuses a path that is not a folder", () => {
    expect(errorOf(() => validateImageFolder(join(root, "nope"))).message).toMatch(
      /cannot read the image folder.*ENOENT/,
    );
    const file = join(root, "file.jpg");
    writeFileSync(file, jpeg(640, 480));
    expect(errorOf(() => validateImageFolder(file)).message).toMatch(/is not a folder/);
  });

  it("warns about mixed sizes and identical files", () => {
    const dir = folder("warn", { "a.jpg": jpeg(640, 480), "b.jpg": jpeg(640, 480), "c.jpg": jpeg(800, 600) });
    expect(validateImageFolder(dir).warnings).toEqual([
      "the images have 2 different sizes (640x480, 800x600)",
      "identical files: a.jpg, b.jpg (they add no view)",
    ]);
  });
});

describe("run key", () => {
  it("is the content hash and the options, whatever the options' key order", () => {
    const hash = "a".repeat(64);
    expect(runKey(hash)).toMatch(/^set-[0-9a-f]{16}$/);
    expect(runKey(hash, { a: 1, b: 2 })).toBe(runKey(hash, { b: 2, a: 1 }));
    expect(runKey(hash, { a: 1 })).not.toBe(runKey(hash));
    expect(runKey("b".repeat(64))).not.toBe(runKey(hash));
  });
});

/** A binary PLY as the reconstruction writes it: xyz float + rgb uchar, faces as uchar count + int indices. */
function ply(vertices: number[][], faces: number[][], trailing = 0): Buffer {
  const header = [
    "ply",
    "format binary_little_endian 1.0",
    `element vertex ${vertices.length}`,
    "property float x",
    "property float y",
    "property float z",
    "property uchar red",
    "property uchar green",
    "property uchar blue",
    `element face ${faces.length}`,
    "property list uchar int vertex_indices",
    "end_header",
    "",
  ].join("\n");
  const v = Buffer.alloc(vertices.length * 15);
  vertices.forEach(([x, y, z], i) => {
    v.writeFloatLE(x!, i * 15);
    v.writeFloatLE(y!, i * 15 + 4);
    v.writeFloatLE(z!, i * 15 + 8);
  });
  const f = Buffer.alloc(faces.length * 13);
  faces.forEach((face, i) => {
    f.writeUInt8(3, i * 13);
    face.forEach((idx, k) => {
      f.writeInt32LE(idx, i * 13 + 1 + k * 4);
    });
  });
  return Buffer.concat([Buffer.from(header), v, f, Buffer.alloc(trailing)]);
}

describe("mesh check", () => {
  const tri = [
    [0, 0, 0],
    [1, 0, 0],
    [0, 2, 1],
  ];
  it("accepts a binary mesh and reports its counts and bounds", () => {
    expect(checkPlyMesh(ply(tri, [[0, 1, 2]]))).toMatchObject({
      format: "binary_little_endian",
      vertices: 3,
      faces: 1,
      bounds: { min: [0, 0, 0], max: [1, 2, 1] },
    });
  });

  it("accepts an ASCII mesh", () => {
    const text = [
      "ply",
      "format ascii 1.0",
      "element vertex 3",
      "property float x",
      "property float y",
      "property float z",
      "element face 1",
      "property list uchar int vertex_indices",
      "end_header",
      "0 0 0",
      "1 0 0",
      "0 1 0",
      "3 0 1 2",
      "",
    ].join("\n");
    expect(checkPlyMesh(Buffer.from(text))).toMatchObject({ format: "ascii", vertices: 3, faces: 1 });
  });

  it.each([
    ["not a PLY", Buffer.from("solid stl"), /not a PLY file/],
    ["no faces (a point cloud)", ply(tri, []), /3 vertices but no faces/],
    ["no vertices", ply([], []), /no vertices/],
    ["truncated", ply(tri, [[0, 1, 2]]).subarray(0, -5), /the body ends inside face/],
    ["trailing bytes", ply(tri, [[0, 1, 2]], 7), /7 bytes after the last element/],
    ["an index out of range", ply(tri, [[0, 1, 3]]), /face 0 refers to vertex 3 of 3/],
    ["a NaN coordinate", ply([[0, 0, Number.NaN], ...tri.slice(1)], [[0, 1, 2]]), /not finite/],
  ])("refuses %s", (_, data, message) => {
    expect(() => checkPlyMesh(data, "mesh.ply")).toThrow(UseError);
    expect(() => checkPlyMesh(data, "mesh.ply")).toThrow(message);
  });
});

describe("S3 signature V4", () => {
  // The list-objects example in Amazon S3's "Signature Calculations for the Authorization Header" (AWS's documented
  // vector: sorted, encoded query; host, payload hash and date signed).
  const credentials = { accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
  const now = new Date("2013-05-24T00:00:00Z");
  const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  it.each([
    [
      "GET Bucket (list objects)",
      { "max-keys": "2", prefix: "J" },
      "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    ],
  ])("matches AWS's %s example", (_, query, signature) => {
    const headers = signV4({
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/"),
      query,
      payloadHash: empty,
      credentials,
      region: "us-east-1",
      now,
    });
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
    );
  });
});

describe("connection from the environment", () => {
  const full = {
    E2E3D_GATEWAY_URL: "https://e2e3d.example.com/",
    E2E3D_S3_ENDPOINT: "https://s3.example.com",
    E2E3D_S3_ACCESS_KEY: "AKEY",
    E2E3D_S3_SECRET_KEY: "s3-secret-value",
    E2E3D_AIRFLOW_PASSWORD: "airflow-secret-value",
  };
  it("builds the gateway, S3 and Airflow endpoints; the user defaults to the deployment's admin", () => {
    const c = connectionFromEnv(full);
    expect(c).toMatchObject({
      source: "environment",
      gatewayUrl: "https://e2e3d.example.com",
      s3: { endpoint: "https://s3.example.com", accessKey: "AKEY" },
      airflow: { baseUrl: "https://e2e3d.example.com/airflow", username: "e2e3d-admin" },
      buckets: { input: "e2e3d-input", output: "e2e3d-output" },
    });
    expect(c.secrets).toEqual(expect.arrayContaining(["s3-secret-value", "airflow-secret-value"]));
  });

  it("names every missing or malformed variable at once, and never echoes a value", () => {
    const err = errorOf(() =>
      connectionFromEnv({ E2E3D_GATEWAY_URL: "e2e3d.example.com", E2E3D_S3_SECRET_KEY: "s3-secret-value" }),
    );
    expect(err.message).toMatch(/E2E3D_GATEWAY_URL must be an http\(s\):\/\/ URL/);
    expect(err.message).toMatch(/E2E3D_S3_ENDPOINT is not set/);
    expect(err.message).toMatch(/E2E3D_S3_ACCESS_KEY is not set/);
    expect(err.message).toMatch(/E2E3D_AIRFLOW_PASSWORD is not set/);
    expect(err.message).not.toMatch(/E2E3D_S3_SECRET_KEY/);
    expect(`${err.message}${err.hint}`).not.toContain("s3-secret-value");
  });

  it("refuses an S3 endpoint with a path (path-style requests start at /<bucket>; the path would be dropped)", () => {
    const err = errorOf(() => connectionFromEnv({ ...full, E2E3D_S3_ENDPOINT: "https://gateway.example.com/s3" }));
    expect(err.message).toMatch(/E2E3D_S3_ENDPOINT must be an http\(s\):\/\/ origin without a path/);
    expect(connectionFromEnv({ ...full, E2E3D_S3_ENDPOINT: "http://127.0.0.1:9000/" }).s3.endpoint).toBe(
      "http://127.0.0.1:9000",
    );
  });
});

describe("choosing a deployment", () => {
  const state = join(root, "state");
  /** What deploy (compose) leaves: <state>/<project>/secrets.env and the deployment record beside it. */
  const composeDeployment = (dir: string, project: string) => {
    mkdirSync(join(dir, project), { recursive: true });
    writeFileSync(join(dir, project, "secrets.env"), "");
    writeFileSync(join(dir, project, "deployments.json"), "[]");
  };
  it("takes the only one, refuses none and asks which of several", () => {
    expect(() => chooseProject(state)).toThrow(/no deployment in/);
    composeDeployment(state, "e2e3d-lab");
    expect(chooseProject(state)).toBe("e2e3d-lab");
    composeDeployment(state, "e2e3d");
    expect(() => chooseProject(state)).toThrow(/2 deployments in .*: e2e3d, e2e3d-lab/);
    expect(chooseProject(state, "e2e3d")).toBe("e2e3d");
  });

  it("does not count a Kubernetes release, whose secrets.env sits in the same state dir", () => {
    const kube = join(root, "state-kube");
    composeDeployment(kube, "e2e3d-lab");
    // What deploy --target kubernetes leaves: <state>/<release>/secrets.env and kubernetes/deployments.json.
    mkdirSync(join(kube, "e2e3d", "kubernetes"), { recursive: true });
    writeFileSync(join(kube, "e2e3d", "secrets.env"), "");
    writeFileSync(join(kube, "e2e3d", "kubernetes", "deployments.json"), "[]");
    expect(deployedProjects(kube)).toEqual(["e2e3d-lab"]);
    expect(chooseProject(kube)).toBe("e2e3d-lab");
  });
});

describe("smoke job quality bar", () => {
  it("is the reconstruction package's target for the full set, and the smoke's own lower bar is below it", () => {
    const quality = readFileSync(
      join(import.meta.dirname, "../../reconstruction/src/e2e3d_reconstruction/quality.py"),
      "utf8",
    );
    expect(TARGET_FSCORE_AT_2PCT).toBe(Number(/^TARGET_FSCORE_AT_2PCT = ([0-9.]+)$/m.exec(quality)?.[1]));
    expect(SMOKE_MIN_FSCORE_AT_2PCT).toBeLessThan(TARGET_FSCORE_AT_2PCT);
    expect(SMOKE_MIN_FSCORE_AT_2PCT).toBeGreaterThan(0.5);
  });
});

describe("deploy summary", () => {
  const summary: DeploySummary = {
    outcome: "unchanged",
    applied: false,
    project: "e2e3d-lab",
    profile: "lab",
    services: [{ service: "gateway", image: "n@sha256:3", state: "healthy", change: "unchanged" }],
    urls: { gateway: "http://localhost:8088/" },
    smoke: [{ check: "reconstruction job", ok: true, detail: "run smoke-1" }],
    notes: [],
    generatedConfig: "/s/current",
    secretsFile: "/s/secrets.env",
    generatedSecrets: 0,
  };
  const base = { views: 16, options: {}, threshold: 0.7 };
  it("shows what the smoke job proved and how long each part took", () => {
    const text = renderDeploySummary({
      ...summary,
      smokeJob: {
        ...base,
        ok: true,
        detail: "",
        mesh: { vertices: 10, faces: 17797, bytes: 1 },
        fscoreAt2pct: 0.8381,
        seconds: { generate: 0.1, run: 60.2, total: 66 },
      },
    });
    expect(text).toContain(
      "  job      reconstructed 16 synthetic views: 17797 faces, F-score 0.838 at 2% (bar 0.7), metrics moved; 66 s (generate 0.1 s, run 60.2 s)\n",
    );
  });

  it("names the stage a failed smoke job stopped at", () => {
    const text = renderDeploySummary({
      ...summary,
      smokeJob: { ...base, ok: false, failedStage: "task submit_job", detail: "x", seconds: { run: 20, total: 21 } },
    });
    expect(text).toContain("  job      FAILED at task submit_job; 21 s (run 20 s)\n");
  });
});
