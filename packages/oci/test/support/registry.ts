// Starts a real registry (Debian's docker-registry, distribution 2.8) as a child process on a free loopback port
// with a temporary storage directory. Tests get real registry behaviour, no mocks; each suite owns its registries.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const REGISTRY_BINARY = process.env["E2E3D_REGISTRY_BINARY"] ?? "/usr/bin/docker-registry";

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

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const storage = await mkdtemp(join(tmpdir(), "e2e3d-oci-registry-"));
  const port = await freePort();
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
    options.extraConfig ?? "",
  ].join("\n");
  const configPath = join(storage, "config.yml");
  await writeFile(configPath, config);
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", configPath], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited (${child.exitCode}) while starting on ${host}:\n${stderr}`);
    try {
      const response = await fetch(`http://${host}/v2/`);
      await response.arrayBuffer();
      if (response.status === 200 || response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not answer on ${host} within 20 s:\n${stderr}`);
    }
    await sleep(50);
  }
  return {
    host,
    port,
    storage,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      await rm(storage, { recursive: true, force: true });
    },
  };
}
