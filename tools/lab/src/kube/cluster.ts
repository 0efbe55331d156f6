// etcd (Debian's etcd-server) and the kube-apiserver built here, on loopback only, started detached with pidfiles
// like the lab's registries. This is a control plane without nodes: enough for `kubectl apply --dry-run=server`
// (schema validation, defaulting, admission incl. PodSecurity) and for real applies of objects, not for running pods.

import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { basename, join } from "node:path";
import { PortTakenError, TimeoutError, tail } from "../errors.js";
import { processAlive, processCommandLine, run, safeRead, startDaemon, waitFor } from "../exec.js";
import type { Log } from "../progress.js";
import type { KubePki } from "./pki.js";

/** Loopback ports, away from etcd's and the API server's well-known ones so a real cluster on the host is untouched. */
export const KUBE_PORTS = { etcdClient: 5179, etcdPeer: 5180, apiserver: 5143 } as const;
export const SERVICE_CIDR = "10.96.0.0/16";

export interface DaemonPaths {
  pidFile: string;
  log: string;
}

export const daemonPaths = (kubeDir: string, name: "etcd" | "kube-apiserver"): DaemonPaths => ({
  pidFile: join(kubeDir, `${name}.pid`),
  log: join(kubeDir, `${name}.log`),
});

/** The pid in the pidfile when that process is still the lab's `name` (a reused pid is not ours). */
export function labDaemonPid(paths: DaemonPaths, name: string): number | undefined {
  const pid = Number.parseInt(safeRead(paths.pidFile).trim(), 10);
  if (!pid || !processAlive(pid)) return undefined;
  const cmdline = processCommandLine(pid) ?? [];
  return basename(cmdline[0] ?? "").startsWith(name) ? pid : undefined;
}

async function portOwner(port: number): Promise<string | undefined> {
  const result = await run("ss", ["-Hltnp", `sport = :${port}`]).catch(() => undefined);
  if (!result?.stdout.trim()) return undefined;
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(result.stdout);
  return match ? `${match[1]} (pid ${match[2]})` : "another process";
}

export async function etcdHealthy(): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${KUBE_PORTS.etcdClient}/health`, {
      signal: AbortSignal.timeout(3000),
    });
    return response.ok && ((await response.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}

/** GET /readyz with the admin client certificate: true only when every readiness check passes. */
export function apiserverReady(pki: KubePki): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: "127.0.0.1",
        port: KUBE_PORTS.apiserver,
        path: "/readyz",
        ca: readFileSync(pki.caCert),
        cert: readFileSync(pki.adminCert),
        key: readFileSync(pki.adminKey),
        timeout: 5000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function startAndWait(
  name: "etcd" | "kube-apiserver",
  binary: string,
  args: string[],
  paths: DaemonPaths,
  ready: () => Promise<boolean>,
  deadlineMs: number,
  hint: string,
): Promise<number> {
  const pid = startDaemon(binary, args, paths.log);
  await writeFile(paths.pidFile, `${pid}\n`);
  const ok = await waitFor(async () => (!processAlive(pid) ? false : (await ready()) ? true : undefined), deadlineMs);
  if (ok !== true) {
    throw new TimeoutError(
      `${name} did not become ready ${processAlive(pid) ? `within ${deadlineMs / 1000}s` : "(it exited)"}`,
      {
        context: { pid, log: paths.log },
        logTail: tail(safeRead(paths.log)),
        hint,
      },
    );
  }
  return pid;
}

export interface ClusterOutcome {
  etcdPid: number;
  apiserverPid: number;
  started: string[];
}

/** Starts whichever of etcd and the API server is not running (the API server again when etcd was restarted). */
export async function ensureCluster(
  kubeDir: string,
  etcdBinary: string,
  apiserverBinary: string,
  pki: KubePki,
  log: Log,
): Promise<ClusterOutcome> {
  const started: string[] = [];
  const etcd = daemonPaths(kubeDir, "etcd");
  const apiserver = daemonPaths(kubeDir, "kube-apiserver");
  let etcdPid = labDaemonPid(etcd, "etcd");
  if (etcdPid && !(await etcdHealthy())) {
    log(`etcd (pid ${etcdPid}) does not answer; restarting it`);
    await stopDaemon(etcd, "etcd");
    etcdPid = undefined;
  }
  if (!etcdPid) {
    for (const port of [KUBE_PORTS.etcdClient, KUBE_PORTS.etcdPeer]) {
      const owner = await portOwner(port);
      if (owner) throw new PortTakenError(port, "lab etcd", owner);
    }
    const dataDir = join(kubeDir, "etcd");
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const client = `http://127.0.0.1:${KUBE_PORTS.etcdClient}`;
    const peer = `http://127.0.0.1:${KUBE_PORTS.etcdPeer}`;
    etcdPid = await startAndWait(
      "etcd",
      etcdBinary,
      [
        "--name=e2e3d-lab",
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=e2e3d-lab=${peer}`,
        // Loopback and one member: plain HTTP is what etcd's own docs use for a local single-node setup.
        "--log-level=warn",
      ],
      etcd,
      etcdHealthy,
      60_000,
      `see ${etcd.log}; a corrupt data dir can be removed (${dataDir}): the lab keeps nothing there that kube up cannot recreate`,
    );
    started.push("etcd");
    log(`etcd started on 127.0.0.1:${KUBE_PORTS.etcdClient} (pid ${etcdPid})`);
  }
  let apiserverPid = labDaemonPid(apiserver, "kube-apiserver");
  // Restarted when etcd was (its watches are gone), when it does not answer, or when a rebuilt binary is waiting.
  const restartApiserver =
    apiserverPid !== undefined &&
    (started.includes("etcd") ||
      processCommandLine(apiserverPid)?.[0] !== apiserverBinary ||
      !(await apiserverReady(pki)));
  if (apiserverPid && restartApiserver) {
    log(`restarting kube-apiserver (pid ${apiserverPid})`);
    await stopDaemon(apiserver, "kube-apiserver");
    apiserverPid = undefined;
  }
  if (!apiserverPid) {
    const owner = await portOwner(KUBE_PORTS.apiserver);
    if (owner) throw new PortTakenError(KUBE_PORTS.apiserver, "lab kube-apiserver", owner);
    apiserverPid = await startAndWait(
      "kube-apiserver",
      apiserverBinary,
      [
        `--etcd-servers=http://127.0.0.1:${KUBE_PORTS.etcdClient}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${KUBE_PORTS.apiserver}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--service-account-key-file=${pki.serviceAccountPub}`,
        `--service-account-signing-key-file=${pki.serviceAccountKey}`,
        "--service-account-issuer=https://kubernetes.default.svc",
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        "--authorization-mode=RBAC",
        "--allow-privileged=false",
        // The default admission chain (NamespaceLifecycle, LimitRanger, ServiceAccount, PodSecurity, ResourceQuota,
        // the validating admission policies...) is what a real cluster runs; nothing is turned off.
        // No nodes and a loopback address: the `kubernetes` Endpoints object may not hold 127.0.0.1.
        "--endpoint-reconciler-type=none",
        `--cert-dir=${join(kubeDir, "apiserver-certs")}`,
      ],
      apiserver,
      () => apiserverReady(pki),
      120_000,
      `see ${apiserver.log}`,
    );
    started.push("kube-apiserver");
    log(`kube-apiserver started on https://127.0.0.1:${KUBE_PORTS.apiserver} (pid ${apiserverPid})`);
  }
  return { etcdPid, apiserverPid, started };
}

export async function stopDaemon(paths: DaemonPaths, name: string): Promise<boolean> {
  const pid = labDaemonPid(paths, name);
  if (!pid) return false;
  process.kill(pid, "SIGTERM");
  const gone = await waitFor(async () => (processAlive(pid) ? undefined : true), 20_000);
  if (!gone) {
    process.kill(pid, "SIGKILL");
    await waitFor(async () => (processAlive(pid) ? undefined : true), 10_000);
  }
  await rm(paths.pidFile, { force: true });
  return true;
}
