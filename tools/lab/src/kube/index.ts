// `kube up | down | status | env`: an optional part of the lab, separate from `up` (its first build costs minutes).
// up: Debian's etcd-server and openssl; kube-apiserver, kubectl, helm and kubeconform built from the Go module proxy
// (cached); keys and certificates; etcd and the API server on loopback; a kubeconfig (client-certificate auth as
// system:masters); kubeconform schemas for the API server's version. State: <lab state dir>/kube/kube.json.
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { ensurePackages } from "../apt.js";
import type { LabConfig } from "../config.js";
import { LabStateError } from "../errors.js";
import { run } from "../exec.js";
import { findGo, goEnvironment } from "../go.js";
import { withLock } from "../lock.js";
import { type Log, Progress } from "../progress.js";
import { ensureKubeTools, KUBE_MODULES_DIR, swaggerPath } from "./build.js";
import {
  apiserverReady,
  daemonPaths,
  ensureCluster,
  etcdHealthy,
  KUBE_PORTS,
  labDaemonPid,
  stopDaemon,
} from "./cluster.js";
import { ensurePki, type KubePki, pkiPaths } from "./pki.js";
import { ensureSchemas, schemaLocation } from "./schemas.js";

export const KUBE_STATE_FILE = "kube.json";
const ETCD_BINARY = "/usr/bin/etcd";

export const KubeStateSchema = z.object({
  schemaVersion: z.literal(1),
  kubeDir: z.string(),
  server: z.string(),
  kubeconfig: z.string(),
  /** One directory holding kubectl, helm, kubeconform and kube-apiserver: put it first on PATH. */
  binDir: z.string(),
  tools: z.object({ kubectl: z.string(), helm: z.string(), kubeconform: z.string(), kubeApiserver: z.string() }),
  versions: z.object({ kubernetes: z.string(), helm: z.string(), kubeconform: z.string(), etcd: z.string() }),
  /** kubeconform's -schema-location for the API server's version (strict: unknown fields are errors). */
  schemaLocation: z.string(),
  /** Seconds each tool's cold build took on this machine (absent for tools built before this was recorded). */
  buildSeconds: z.record(z.string(), z.number()),
  lastUp: z.object({
    at: z.string(),
    seconds: z.number(),
    steps: z.array(z.object({ name: z.string(), changed: z.boolean(), detail: z.string(), seconds: z.number() })),
  }),
});
export type KubeState = z.infer<typeof KubeStateSchema>;

export const kubeDirOf = (stateDir: string) => join(stateDir, "kube");

export async function readKubeState(stateDir: string): Promise<KubeState> {
  const path = join(kubeDirOf(stateDir), KUBE_STATE_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new LabStateError(`the lab's Kubernetes API server has not been brought up: ${path} does not exist`, {
      context: { file: path },
      hint: "run `npx tsx tools/lab/src/cli.ts kube up` first (the first run builds kube-apiserver: minutes)",
    });
  }
  const parsed = KubeStateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) {
    throw new LabStateError(`${path} does not match the kube state schema`, {
      context: { file: path, problem: parsed.error.issues[0]?.message },
      hint: "run `npx tsx tools/lab/src/cli.ts kube up` to rewrite it",
    });
  }
  return parsed.data;
}

export function renderKubeconfig(server: string, pki: KubePki): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "e2e3d-lab", cluster: { server, "certificate-authority": pki.caCert } }],
    users: [{ name: "e2e3d-lab-admin", user: { "client-certificate": pki.adminCert, "client-key": pki.adminKey } }],
    contexts: [{ name: "e2e3d-lab", context: { cluster: "e2e3d-lab", user: "e2e3d-lab-admin" } }],
    "current-context": "e2e3d-lab",
  });
}

async function writePrivate(path: string, content: string): Promise<boolean> {
  const before = existsSync(path) ? await readFile(path, "utf8") : undefined;
  if (before === content) return false;
  const temporary = `${path}.tmp-${process.pid}`;
  await writeFile(temporary, content, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, path);
  return true;
}

export async function kubeUp(config: LabConfig, write?: Log): Promise<KubeState> {
  const started = Date.now();
  const kubeDir = kubeDirOf(config.stateDir);
  await mkdir(kubeDir, { recursive: true, mode: 0o700 });
  const progress = new Progress(6, write);
  const log = progress.log;
  return withLock(join(kubeDir, "up.lock"), { holder: "another `kube up`", log, timeoutMs: 45 * 60_000 }, async () => {
    await progress.step("packages", async () => {
      const installed = await ensurePackages(["etcd-server", "openssl"], config.stateDir, log);
      return {
        value: undefined,
        changed: installed.length > 0,
        detail: installed.length ? `installed ${installed.join(", ")}` : "etcd-server and openssl are installed",
      };
    });
    const tools = await progress.step("tools", async () => {
      const built = await ensureKubeTools(config.stateDir, log);
      const fresh = built.filter((b) => b.seconds > 0);
      return {
        value: built,
        changed: fresh.length > 0,
        detail: fresh.length
          ? `built ${fresh.map((b) => `${b.name} (${b.seconds}s)`).join(", ")}`
          : `cached: ${built.map((b) => `${b.name} ${b.version}`).join(", ")}`,
      };
    });
    const tool = (name: string) => tools.find((t) => t.name === name)!;
    const pki = await progress.step("certificates", async () => {
      const { pki, created } = await ensurePki(kubeDir);
      return { value: pki, changed: created, detail: created ? `made in ${pki.dir}` : `reused ${pki.dir}` };
    });
    await progress.step("etcd and kube-apiserver", async () => {
      const outcome = await ensureCluster(kubeDir, ETCD_BINARY, tool("kube-apiserver").binary, pki, log);
      return {
        value: outcome,
        changed: outcome.started.length > 0,
        detail: outcome.started.length
          ? `started ${outcome.started.join(", ")}`
          : `running (etcd pid ${outcome.etcdPid}, kube-apiserver pid ${outcome.apiserverPid})`,
      };
    });
    const server = `https://127.0.0.1:${KUBE_PORTS.apiserver}`;
    const kubeconfig = join(kubeDir, "kubeconfig");
    await progress.step("kubeconfig", async () => {
      const changed = await writePrivate(kubeconfig, renderKubeconfig(server, pki));
      const check = await run(join(kubeDir, "bin", "kubectl"), [
        "--kubeconfig",
        kubeconfig,
        "get",
        "--raw",
        "/version",
      ]);
      if (check.code !== 0) {
        throw new LabStateError("kubectl cannot reach the lab API server with the kubeconfig the lab wrote", {
          context: { kubeconfig, output: check.stderr.trim().slice(0, 300) },
          hint: `see ${daemonPaths(kubeDir, "kube-apiserver").log}`,
        });
      }
      return { value: undefined, changed, detail: `${changed ? "wrote" : "unchanged"} ${kubeconfig}` };
    });
    const schemas = await progress.step("kubeconform schemas", async () => {
      let swagger = swaggerPath(config.stateDir);
      if (!existsSync(swagger)) {
        // The binaries were cached but the module cache was cleaned: fetch just the module again.
        const go = findGo();
        if (go) {
          await run(go, ["mod", "download", "k8s.io/kubernetes"], {
            cwd: join(KUBE_MODULES_DIR, "apiserver"),
            env: goEnvironment(config.stateDir),
          });
        }
        swagger = swaggerPath(config.stateDir);
      }
      const { set, created } = await ensureSchemas(swagger, join(kubeDir, "schemas"), tool("kube-apiserver").version);
      return {
        value: set,
        changed: created,
        detail: `${created ? "wrote" : "reused"} ${set.kinds} kinds for ${set.kubernetesVersion} in ${set.dir}`,
      };
    });
    const etcdVersion = (await run(ETCD_BINARY, ["--version"])).stdout.match(/etcd Version: (\S+)/)?.[1] ?? "?";
    const previous = await readKubeState(config.stateDir).catch(() => undefined);
    const state: KubeState = {
      schemaVersion: 1,
      kubeDir,
      server,
      kubeconfig,
      binDir: join(kubeDir, "bin"),
      tools: {
        kubectl: join(kubeDir, "bin", "kubectl"),
        helm: join(kubeDir, "bin", "helm"),
        kubeconform: join(kubeDir, "bin", "kubeconform"),
        kubeApiserver: join(kubeDir, "bin", "kube-apiserver"),
      },
      versions: {
        kubernetes: tool("kube-apiserver").version,
        helm: tool("helm").version,
        kubeconform: tool("kubeconform").version,
        etcd: etcdVersion,
      },
      schemaLocation: schemaLocation(schemas.dir),
      buildSeconds: {
        ...previous?.buildSeconds,
        ...Object.fromEntries(tools.filter((t) => t.seconds > 0).map((t) => [t.name, t.seconds])),
      },
      lastUp: { at: new Date(started).toISOString(), seconds: (Date.now() - started) / 1000, steps: progress.steps },
    };
    await writePrivate(join(kubeDir, KUBE_STATE_FILE), `${JSON.stringify(KubeStateSchema.parse(state), null, 2)}\n`);
    log(`kube ready in ${state.lastUp.seconds.toFixed(1)}s: ${server}, KUBECONFIG=${kubeconfig}`);
    return state;
  });
}

export interface KubeStatus {
  state: KubeState;
  etcd: { pid?: number; healthy: boolean };
  apiserver: { pid?: number; ready: boolean };
  ready: boolean;
}

export async function kubeStatus(config: LabConfig): Promise<KubeStatus> {
  const state = await readKubeState(config.stateDir);
  const pki = pkiPaths(state.kubeDir);
  const etcdPid = labDaemonPid(daemonPaths(state.kubeDir, "etcd"), "etcd");
  const apiserverPid = labDaemonPid(daemonPaths(state.kubeDir, "kube-apiserver"), "kube-apiserver");
  const [healthy, ready] = await Promise.all([etcdHealthy(), apiserverReady(pki)]);
  return {
    state,
    etcd: { ...(etcdPid ? { pid: etcdPid } : {}), healthy },
    apiserver: { ...(apiserverPid ? { pid: apiserverPid } : {}), ready },
    ready: healthy && ready,
  };
}

export function formatKubeStatus(status: KubeStatus): string {
  const { state } = status;
  const built = Object.entries(state.buildSeconds)
    .map(([name, s]) => `${name} ${s}s`)
    .join(", ");
  return [
    `kube-apiserver ${state.versions.kubernetes}: ${status.apiserver.ready ? "ready" : "NOT ready"} at ${state.server}${status.apiserver.pid ? ` (pid ${status.apiserver.pid})` : ""}`,
    `etcd ${state.versions.etcd}: ${status.etcd.healthy ? "healthy" : "NOT healthy"} on 127.0.0.1:${KUBE_PORTS.etcdClient}${status.etcd.pid ? ` (pid ${status.etcd.pid})` : ""}`,
    `kubeconfig: ${state.kubeconfig}`,
    `tools: ${state.binDir} (kubectl ${state.versions.kubernetes}, helm ${state.versions.helm}, kubeconform ${state.versions.kubeconform})`,
    `kubeconform schemas: ${state.schemaLocation}`,
    ...(built ? [`cold build on this machine: ${built}`] : []),
  ].join("\n");
}

/** Shell lines that point kubectl and helm at the lab: eval "$(npx tsx tools/lab/src/cli.ts kube env)". */
export function kubeEnv(state: KubeState): string {
  return `export KUBECONFIG=${state.kubeconfig}\nexport PATH=${state.binDir}:$PATH\n`;
}

/** Stops the API server and etcd if the lab started them; their data and the built tools stay. */
export async function kubeDown(config: LabConfig, log: Log): Promise<string[]> {
  const kubeDir = kubeDirOf(config.stateDir);
  const stopped: string[] = [];
  for (const name of ["kube-apiserver", "etcd"] as const) {
    if (await stopDaemon(daemonPaths(kubeDir, name), name)) stopped.push(name);
    else log(`${name}: not running under the lab`);
  }
  return stopped;
}
