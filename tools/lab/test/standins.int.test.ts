// Integration tests of the lab's stand-in images: each one built (or found up to date) by ensureStandIns, started on
// the real Docker engine with ports on 127.0.0.1, and checked the way the stack uses it. Inputs come from the lab:
// lab.json (upstream, base image, docker client), with env overrides E2E3D_UPSTREAM_REGISTRY and
// E2E3D_LAB_BASE_IMAGE for development against another registry or base.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, it } from "vitest";
import { loadConfig, PREFERRED_DOCKER_CLIENT } from "../src/config.js";
import { runCommand } from "../src/standins/exec.js";
import { ensureStandIns, LABEL_KEYS, STAND_INS, type StandInResult, stableLabels } from "../src/standins/index.js";
import { readRemoteImage } from "../src/standins/registry.js";
import { readLabStateIfAny } from "../src/state.js";

// Generous: six containers start side by side (postgres runs initdb) on machines that may be small and loaded. Each
// wait ends as soon as the container reports healthy, so the bound costs nothing when things are fast.
const HEALTH_DEADLINE_MS = 300_000;
const RUN_ID = randomBytes(4).toString("hex");
const containers: string[] = [];
let docker = PREFERRED_DOCKER_CLIENT;
let images: Record<string, string> = {};
let upstream = "";
let baseImage = "";
let scratch = "";

async function must(args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runCommand(docker, args, env ? { env: { ...process.env, ...env } } : {});
  if (result.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${result.code}):\n${result.outputTail}`);
  return result.stdout.trim();
}

interface StartOptions {
  /** Secrets and settings go through the docker client's environment (`-e NAME`), never its arguments. */
  env?: Record<string, string>;
  ports: string[];
  mounts?: string[];
  command?: string[];
}

async function start(name: string, options: StartOptions): Promise<string> {
  const args = ["run", "-d", "--name", `e2e3d-standin-test-${name}-${RUN_ID}`, "--label", "io.e2e3d.test=standins"];
  for (const key of Object.keys(options.env ?? {})) args.push("-e", key);
  for (const port of options.ports) args.push("-p", `127.0.0.1::${port}`);
  for (const mount of options.mounts ?? []) args.push("-v", mount);
  args.push(image(name), ...(options.command ?? []));
  const id = await must(args, options.env);
  containers.push(id);
  return id;
}

function image(name: string): string {
  const reference = images[name];
  if (!reference) throw new Error(`ensureStandIns returned no image named ${name}`);
  return reference;
}

interface ContainerState {
  Status: string;
  ExitCode: number;
  Health?: { Status: string; Log?: { ExitCode: number; Output: string }[] };
}

/** Waits on the container's own HEALTHCHECK status (the engine runs it); fails fast when it exits or turns unhealthy. */
async function waitHealthy(id: string): Promise<void> {
  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  for (;;) {
    const state = JSON.parse(await must(["inspect", "--format", "{{json .State}}", id])) as ContainerState;
    const health = state.Health?.Status;
    if (health === "healthy") return;
    if (!state.Health) throw new Error(`container ${id} has no HEALTHCHECK`);
    if (state.Status !== "running" || health === "unhealthy" || Date.now() > deadline) {
      const logs = await runCommand(docker, ["logs", "--tail", "30", id]);
      const probes = (state.Health.Log ?? []).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`).join("\n");
      throw new Error(
        `container ${id} is ${state.Status}/${health ?? "no health"} (exit ${state.ExitCode})\nprobes:\n${probes}\nlogs:\n${logs.outputTail}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Polls `ready` until it answers true, failing with `what` after the health deadline. */
async function waitFor(what: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + HEALTH_DEADLINE_MS;
  let last: unknown;
  for (;;) {
    try {
      if (await ready()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`${what} not ready after ${HEALTH_DEADLINE_MS / 1000} s`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function hostPort(id: string, containerPort: string): Promise<number> {
  const out = await must(["port", id, containerPort]);
  const match = /127\.0\.0\.1:(\d+)/.exec(out);
  if (!match) throw new Error(`container ${id} publishes ${containerPort} as ${out}, not on 127.0.0.1`);
  return Number(match[1]);
}

async function exec(id: string, command: string[], env?: Record<string, string>) {
  const args = ["exec", ...Object.keys(env ?? {}).flatMap((k) => ["-e", k]), id, ...command];
  return runCommand(docker, args, { env: { ...process.env, ...env } });
}

/** The real user of the container's main process (PID 1) and the image's configured user. */
async function runsAs(id: string): Promise<{ uid: number; configured: string }> {
  const status = await exec(id, ["cat", "/proc/1/status"]);
  const uid = /^Uid:\s+(\d+)/m.exec(status.stdout);
  const configured = await must(["inspect", "--format", "{{.Config.User}}", id]);
  return { uid: uid ? Number(uid[1]) : -1, configured };
}

/** Runs a container that must refuse to start; returns its exit code and output. */
async function refusal(name: string, env: Record<string, string> = {}) {
  const args = ["run", "--rm", ...Object.keys(env).flatMap((k) => ["-e", k]), image(name)];
  const result = await runCommand(docker, args, { env: { ...process.env, ...env } });
  return { code: result.code, output: result.outputTail };
}

const secret = () => randomBytes(12).toString("hex");

beforeAll(async () => {
  const config = loadConfig();
  const state = await readLabStateIfAny(config.stateDir);
  baseImage = process.env["E2E3D_LAB_BASE_IMAGE"] || state?.baseImage.reference || "";
  if (!baseImage) {
    throw new Error(
      `no lab base image: ${config.stateDir}/lab.json is missing and E2E3D_LAB_BASE_IMAGE is not set; run \`npx tsx tools/lab/src/cli.ts up\` first`,
    );
  }
  docker = state?.engine.dockerClient ?? PREFERRED_DOCKER_CLIENT;
  upstream =
    process.env["E2E3D_UPSTREAM_REGISTRY"] || state?.upstream || `${config.upstream.host}:${config.upstream.port}`;
  const results: StandInResult[] = await ensureStandIns({
    docker,
    upstream,
    baseImage,
    stateDir: config.stateDir,
    log: (line) => console.log(line),
  });
  // Run exactly what the upstream holds: the tag pinned to the digest ensureStandIns reported.
  images = Object.fromEntries(results.map((r) => [r.name, `${r.reference}@${r.digest}`]));
  scratch = await mkdtemp(join(tmpdir(), "e2e3d-standins-"));
  await chmod(scratch, 0o755);
});

afterAll(async () => {
  // Always, even after failures: the reaper is disabled on these machines, nobody else cleans up.
  for (const id of containers) await runCommand(docker, ["rm", "-f", "-v", id]);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

// The containers are independent: run them side by side (each test waits on its own container's health).
describe.concurrent("lab stand-ins", () => {
  it("carry the labels the lab derives from its catalog, as the upstream holds them", async ({ expect }) => {
    for (const standIn of STAND_INS) {
      const remote = await readRemoteImage(upstream, standIn.repository, standIn.tag);
      if (!remote) throw new Error(`the upstream has no ${standIn.repository}:${standIn.tag}`);
      const labels = remote.labels;
      const version = labels[LABEL_KEYS.version] ?? "";
      // The version label is the exact version inside; the tag is derived from it, so they must agree.
      expect(standIn.tagFor(version), `${standIn.name} version label ${version}`).toBe(standIn.tag);
      expect(labels).toEqual({
        ...stableLabels(standIn, { version, baseImage }),
        [LABEL_KEYS.created]: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/),
        [LABEL_KEYS.inputHash]: expect.stringMatching(/^sha256:[a-f0-9]{64}$/),
      });
    }
  });

  describe("redis stand-in", () => {
    it("becomes healthy, answers PING over TCP and runs as redis (999)", async ({ expect }) => {
      const id = await start("redis", { ports: ["6379"] });
      await waitHealthy(id);
      const port = await hostPort(id, "6379/tcp");
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1", () => socket.write("PING\r\n"));
        socket.setTimeout(30_000, () => socket.destroy(new Error("no reply from redis within 30 s")));
        socket.once("data", (data) => {
          resolve(data.toString());
          socket.end();
        });
        socket.once("error", reject);
      });
      expect(reply).toBe("+PONG\r\n");
      expect(await runsAs(id)).toEqual({ uid: 999, configured: "999:999" });
    });
  });

  describe("postgres stand-in", () => {
    it("refuses to start without a password", async ({ expect }) => {
      const refused = await refusal("postgres");
      expect(refused.code).not.toBe(0);
      expect(refused.output).toContain("POSTGRES_PASSWORD is not set");
    });

    it("initialises with POSTGRES_USER/PASSWORD/DB, accepts them, rejects a wrong password, runs as postgres (999)", async ({
      expect,
    }) => {
      const password = secret();
      const id = await start("postgres", {
        env: { POSTGRES_USER: "e2e3d", POSTGRES_PASSWORD: password, POSTGRES_DB: "e2e3d_meta" },
        ports: ["5432"],
      });
      await waitHealthy(id);
      // Over TCP, so the scram-sha-256 rule applies (the socket is trusted inside the container, as in the official image).
      const query = [
        "psql",
        "-h",
        "127.0.0.1",
        "-U",
        "e2e3d",
        "-d",
        "e2e3d_meta",
        "-tAc",
        "select current_user, current_database()",
      ];
      const ok = await exec(id, query, { PGPASSWORD: password });
      expect(ok.code, ok.outputTail).toBe(0);
      expect(ok.stdout.trim()).toBe("e2e3d|e2e3d_meta");
      const wrong = await exec(id, query, { PGPASSWORD: `${password}x` });
      expect(wrong.code).not.toBe(0);
      expect(wrong.outputTail).toContain('password authentication failed for user "e2e3d"');
      // A restart finds the initialised volume: no second initdb, and the same password still works.
      await must(["restart", id]);
      await waitHealthy(id);
      const again = await exec(id, query, { PGPASSWORD: password });
      expect(again.code, again.outputTail).toBe(0);
      // The whole log (stdout and stderr together), not a 40-line tail: a slow shutdown or a recovery adds lines.
      const logs = await runCommand("sh", ["-c", '"$0" logs "$1" 2>&1', docker, id]);
      expect(logs.code, logs.outputTail).toBe(0);
      const fullLog = logs.stdout;
      expect(fullLog.match(/initialising \/var\/lib\/postgresql\/data/g)).toHaveLength(1);
      expect(await runsAs(id)).toEqual({ uid: 999, configured: "999:999" });
    });
  });

  describe("nginx stand-in", () => {
    it("serves a mounted conf.d server, passes nginx -t, runs as nginx (101)", async ({ expect }) => {
      const conf = join(scratch, "e2e3d.conf");
      await writeFile(conf, 'server {\n  listen 8081;\n  location / {\n    return 200 "e2e3d-lab\\n";\n  }\n}\n');
      await chmod(conf, 0o644);
      const id = await start("nginx", { ports: ["80", "8081"], mounts: [`${conf}:/etc/nginx/conf.d/e2e3d.conf:ro`] });
      await waitHealthy(id);
      const test = await exec(id, ["nginx", "-t"]);
      expect(test.code, test.outputTail).toBe(0);
      expect(test.outputTail).toContain("test is successful");
      const response = await fetch(`http://127.0.0.1:${await hostPort(id, "8081/tcp")}/`);
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("e2e3d-lab\n");
      expect((await fetch(`http://127.0.0.1:${await hostPort(id, "80/tcp")}/`)).status).toBe(200);
      expect(await runsAs(id)).toEqual({ uid: 101, configured: "101:101" });
    });
  });

  describe("prometheus stand-in", () => {
    it("runs a mounted prometheus.yml that promtool accepts, runs as nobody (65534)", async ({ expect }) => {
      const conf = join(scratch, "prometheus.yml");
      await writeFile(
        conf,
        "global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: e2e3d-lab-test\n    static_configs:\n      - targets: ['127.0.0.1:9090']\n",
      );
      await chmod(conf, 0o644);
      const id = await start("prometheus", { ports: ["9090"], mounts: [`${conf}:/etc/prometheus/prometheus.yml:ro`] });
      await waitHealthy(id);
      const check = await exec(id, ["promtool", "check", "config", "/etc/prometheus/prometheus.yml"]);
      expect(check.code, check.outputTail).toBe(0);
      expect(check.outputTail).toContain("SUCCESS");
      const port = await hostPort(id, "9090/tcp");
      // The image's HEALTHCHECK probes /-/healthy, which answers as soon as the web server listens; /-/ready (and the
      // API) answer 503 until the TSDB is open and the config loaded. Wait for readiness itself, with a deadline.
      await waitFor(`prometheus ${id} /-/ready`, async () => {
        const response = await fetch(`http://127.0.0.1:${port}/-/ready`);
        await response.arrayBuffer();
        return response.ok;
      });
      const loaded = (await (await fetch(`http://127.0.0.1:${port}/api/v1/status/config`)).json()) as {
        data: { yaml: string };
      };
      expect(loaded.data.yaml).toContain("job_name: e2e3d-lab-test");
      expect(await runsAs(id)).toEqual({ uid: 65534, configured: "65534:65534" });
    });
  });

  describe("statsd-exporter stand-in", () => {
    it("turns a statsd counter received over UDP into a Prometheus metric, runs as nobody (65534)", async ({
      expect,
    }) => {
      const id = await start("statsd-exporter", { ports: ["9102", "9125/udp"] });
      await waitHealthy(id);
      const udpPort = await hostPort(id, "9125/udp");
      const metricsUrl = `http://127.0.0.1:${await hostPort(id, "9102/tcp")}/metrics`;
      const deadline = Date.now() + HEALTH_DEADLINE_MS;
      let metrics = "";
      // UDP may be dropped: send again until the exporter shows the counter, up to a deadline.
      while (!/^e2e3d_lab_test [1-9]\d*$/m.test(metrics)) {
        if (Date.now() > deadline) throw new Error(`statsd counter never appeared in ${metricsUrl}`);
        await new Promise<void>((resolve, reject) => {
          const socket = createSocket("udp4");
          socket.send("e2e3d_lab_test:1|c", udpPort, "127.0.0.1", (err) => {
            socket.close();
            if (err) reject(err);
            else resolve();
          });
        });
        metrics = await (await fetch(metricsUrl)).text();
        await new Promise((resolve) => setTimeout(resolve, 200)); // poll interval
      }
      expect(await runsAs(id)).toEqual({ uid: 65534, configured: "65534:65534" });
    });
  });

  describe("S3 stand-in (versitygw for minio)", () => {
    it("refuses to start without credentials", async ({ expect }) => {
      const noUser = await refusal("minio");
      expect(noUser.code).not.toBe(0);
      expect(noUser.output).toContain("MINIO_ROOT_USER is not set");
      const noPassword = await refusal("minio", { MINIO_ROOT_USER: "e2e3d-lab" });
      expect(noPassword.code).not.toBe(0);
      expect(noPassword.output).toContain("MINIO_ROOT_PASSWORD is not set");
    });

    it("rejects wrong keys; with the right ones: bucket, put, get, list, multipart, delete; runs as 1000", async ({
      expect,
    }) => {
      const accessKeyId = `lab${secret().slice(0, 8)}`;
      const secretAccessKey = secret();
      const id = await start("minio", {
        env: { MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey },
        ports: ["9000"],
        command: ["server", "/data", "--console-address", ":9001"],
      });
      await waitHealthy(id);
      const endpoint = `http://127.0.0.1:${await hostPort(id, "9000/tcp")}`;
      const client = (credentials: { accessKeyId: string; secretAccessKey: string }) =>
        new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials, maxAttempts: 1 });

      await expect(
        client({ accessKeyId: "wrong-key", secretAccessKey }).send(new ListBucketsCommand({})),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 }, name: "InvalidAccessKeyId" });
      await expect(
        client({ accessKeyId, secretAccessKey: `${secretAccessKey}x` }).send(new ListBucketsCommand({})),
      ).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 }, name: "SignatureDoesNotMatch" });

      const s3 = client({ accessKeyId, secretAccessKey });
      const Bucket = "e2e3d-lab-test";
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new HeadBucketCommand({ Bucket }));
      await s3.send(new PutObjectCommand({ Bucket, Key: "in/hello.txt", Body: "hello lab" }));
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: "in/hello.txt" }));
      expect(await got.Body?.transformToString()).toBe("hello lab");

      // Multipart, as boto3 and the JS SDK do for larger files: parts of 5 MiB (S3's minimum) and a tail.
      const Key = "out/mesh.bin";
      const parts = [Buffer.alloc(5 * 1024 * 1024, 1), Buffer.alloc(1234, 2)];
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
      const etags = [];
      for (const [index, Body] of parts.entries()) {
        const part = await s3.send(
          new UploadPartCommand({ Bucket, Key, UploadId: upload.UploadId, PartNumber: index + 1, Body }),
        );
        etags.push({ ETag: part.ETag, PartNumber: index + 1 });
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: upload.UploadId,
          MultipartUpload: { Parts: etags },
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key }));
      expect(head.ContentLength).toBe(5 * 1024 * 1024 + 1234);

      const listed = await s3.send(new ListObjectsV2Command({ Bucket }));
      expect(listed.Contents?.map((o) => o.Key).sort()).toEqual(["in/hello.txt", "out/mesh.bin"]);
      await s3.send(new DeleteObjectCommand({ Bucket, Key: "in/hello.txt" }));
      const after = await s3.send(new ListObjectsV2Command({ Bucket }));
      expect(after.Contents?.map((o) => o.Key)).toEqual(["out/mesh.bin"]);
      s3.destroy();
      expect(await runsAs(id)).toEqual({ uid: 1000, configured: "1000:1000" });
    });
  });
});
