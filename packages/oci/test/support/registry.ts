// Starts a real registry (Debian's docker-registry, distribution 2.8) as a child process on a free loopback port
// with a temporary storage directory. Tests get real registry behaviour, no mocks; each suite owns its registries.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REGISTRY_BINARY = process.env["E2E3D_REGISTRY_BINARY"] ?? "/usr/bin/docker-registry";

/** A response header carrying a random value per registry: the readiness probe knows it is talking to ours. */
const IDENTITY_HEADER = "X-E2e3d-Test-Registry";

export interface TestRegistry {
  /** host:port on loopback */
  host: string;
  port: number;
  storage: string;
  stop(): Promise<void>;
}

/** Whether the real registry (and, with `witness`, skopeo) can run here; the reason is printed when not. */
export function registryAvailable(options: { witness?: boolean } = {}): { ok: boolean; reason: string } {
  if (!existsSync(REGISTRY_BINARY)) {
    return {
      ok: false,
      reason: `${REGISTRY_BINARY} is missing: install Debian's docker-registry (apt-get install docker-registry); the lab installs it`,
    };
  }
  if (options.witness && !existsSync("/usr/bin/skopeo")) {
    return {
      ok: false,
      reason:
        "/usr/bin/skopeo (the independent digest witness) is missing: apt-get install skopeo; the lab installs it",
    };
  }
  return { ok: true, reason: "" };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RegistryOptions {
  /** Extra YAML appended under the top level (e.g. an auth: section). */
  extraConfig?: string;
}

/**
 * Starts a registry on a free port. The port is found by binding port 0 and released before the registry binds it,
 * so another process can take it in between: then the registry exits ("address already in use") and we retry on
 * another port. The readiness probe checks a header only this registry sends, so a server that got the port
 * instead of ours is never mistaken for it.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  for (let attempt = 1; ; attempt++) {
    const started = await startRegistryOnce(options);
    if (started.ok) return started.registry;
    if (!started.portTaken || attempt >= 5) throw new Error(started.error);
  }
}

async function startRegistryOnce(
  options: RegistryOptions,
): Promise<{ ok: true; registry: TestRegistry } | { ok: false; portTaken: boolean; error: string }> {
  const storage = await mkdtemp(join(tmpdir(), "e2e3d-oci-registry-"));
  const port = await freePort();
  const identity = randomBytes(8).toString("hex");
  const config = [
    "version: 0.1",
    "log:",
    "  level: error",
    "  accesslog:",
    "    disabled: true",
    "storage:",
    "  filesystem:",
    `    rootdirectory: ${join(storage, "data")}`,
    "  delete:",
    "    enabled: true",
    "http:",
    `  addr: 127.0.0.1:${port}`,
    "  headers:",
    `    ${IDENTITY_HEADER}: ["${identity}"]`,
    options.extraConfig ?? "",
  ].join("\n");
  const configPath = join(storage, "config.yml");
  await writeFile(configPath, config);
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
    }
    await rm(storage, { recursive: true, force: true });
  };
  const host = `127.0.0.1:${port}`;
  // A readiness wait: generous for a loaded machine, it ends at the registry's first answer.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      return {
        ok: false,
        portTaken: /address already in use/i.test(stderr),
        error: `docker-registry exited (${child.exitCode ?? child.signalCode}) while starting on ${host}:\n${stderr}`,
      };
    }
    try {
      const response = await fetch(`http://${host}/v2/`);
      await response.arrayBuffer();
      const ours = response.headers.get(IDENTITY_HEADER) === identity;
      if (ours && (response.status === 200 || response.status === 401)) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      return {
        ok: false,
        portTaken: false,
        error: `docker-registry did not answer on ${host} within 60 s:\n${stderr}`,
      };
    }
    await sleep(50);
  }
  return { ok: true, registry: { host, port, storage, stop } };
}
