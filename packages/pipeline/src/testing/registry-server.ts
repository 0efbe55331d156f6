// A throwaway registry for integration tests and the benchmark: Debian's docker-registry (distribution 2.8) on a
// free loopback port with its storage in a temp directory. Installed by the lab (apt docker-registry); when the
// binary is missing, `registryUnavailableReason()` says so and the suites skip with that reason.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export interface RegistryServer {
  /** host:port */
  address: string;
  stop(): Promise<void>;
}

export function registryUnavailableReason(): string | undefined {
  return existsSync(REGISTRY_BINARY)
    ? undefined
    : `${REGISTRY_BINARY} is missing: install it (DEBIAN_FRONTEND=noninteractive apt-get install -y docker-registry) or bring the lab up`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A response header carrying a random value per registry: the readiness probe knows it is talking to ours. */
const IDENTITY_HEADER = "X-E2e3d-Test-Registry";

/**
 * Starts a registry on a free port. The port is found by binding port 0 and released before the registry binds it,
 * so another process can take it in between: then the registry exits ("address already in use") and we retry on
 * another port. The readiness probe checks a header only this registry sends, so a server that got the port
 * instead of ours is never mistaken for it.
 */
export async function startRegistry(options: { extraConfig?: string } = {}): Promise<RegistryServer> {
  for (let attempt = 1; ; attempt++) {
    const started = await startRegistryOnce(options.extraConfig);
    if ("address" in started) return started;
    if (!started.portTaken || attempt >= 5) throw new Error(started.error);
  }
}

async function startRegistryOnce(
  extraConfig?: string,
): Promise<RegistryServer | { portTaken: boolean; error: string }> {
  const dir = await mkdtemp(join(tmpdir(), "e2e3d-registry-"));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const identity = randomBytes(8).toString("hex");
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log: { level: warn }",
      `storage: { filesystem: { rootdirectory: ${join(dir, "data")} }, delete: { enabled: true } }`,
      `http: { addr: "${address}", headers: { ${IDENTITY_HEADER}: ["${identity}"] } }`,
      ...(extraConfig ? [extraConfig] : []),
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise((r) => child.once("exit", r));
  const running = () => child.exitCode === null && child.signalCode === null;
  const stop = async () => {
    if (running()) {
      child.kill("SIGTERM");
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };
  // A readiness wait with a deadline generous enough for a loaded machine; it ends at the registry's first answer.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && running()) {
    try {
      const res = await request(`http://${address}/v2/`);
      await res.body.dump();
      if ((res.statusCode === 200 || res.statusCode === 401) && res.headers[IDENTITY_HEADER.toLowerCase()] === identity)
        return { address, stop };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const portTaken = !running() && /address already in use/i.test(stderr);
  await stop();
  return { portTaken, error: `the throwaway registry did not start on ${address}: ${stderr}` };
}

/** Tags listed for a repository; [] when the repository does not exist. */
export async function listTags(address: string, repository: string): Promise<string[]> {
  const res = await request(`http://${address}/v2/${repository}/tags/list`);
  const body = (await res.body.json()) as { tags?: string[] | null };
  return res.statusCode === 200 ? (body.tags ?? []) : [];
}
