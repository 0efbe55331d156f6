// The compose deploy's smoke checks, run against the cluster: the gateway and the S3 API reached through
// `kubectl port-forward` on loopback ports, `airflow dags list` through `kubectl exec`. Same checks, same verdicts.
import { type ChildProcess, spawn } from "node:child_process";
import { S } from "../model/services.js";
import type { StackModel } from "../model/types.js";
import type { Secrets } from "../secrets.js";
import type { Cluster } from "./kube-tools.js";
import type { Reporter } from "./progress.js";
import { type SmokeResult, smoke } from "./smoke.js";

interface Forward {
  port: number;
  child: ChildProcess;
}

/** `kubectl port-forward svc/<service> :<port>` and the local port kubectl chose (it prints it). */
function portForward(cluster: Cluster, service: string, port: number): Promise<Forward> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      cluster.tools.kubectl,
      [
        "--kubeconfig",
        cluster.kubeconfig,
        "port-forward",
        "--namespace",
        cluster.namespace,
        "--address",
        "127.0.0.1",
        `svc/${service}`,
        `:${port}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl port-forward svc/${service} printed no port within 30s: ${output.trim()}`));
    }, 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ port: Number(match[1]), child });
      }
    };
    // A kubectl that cannot be started (ENOENT, EACCES) emits 'error', not 'exit': unheard, it would crash deploy.
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward svc/${service} could not start ${cluster.tools.kubectl}: ${err.message}`));
    });
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl port-forward svc/${service} exited ${code}: ${output.trim()}`));
    });
  });
}

export async function kubeSmoke(
  model: StackModel,
  cluster: Cluster,
  secrets: Secrets,
  reporter: Reporter,
): Promise<SmokeResult[]> {
  const forwards: Forward[] = [];
  const port = async (service: string) => {
    const spec = model.services.find((s) => s.name === service);
    if (!spec?.ports[0]) return undefined;
    const forward = await portForward(cluster, service, spec.ports[0].container);
    forwards.push(forward);
    return forward.port;
  };
  try {
    let gateway: number | undefined;
    let objectStore: number | undefined;
    // Only a port-forward failure is reported as one; an error of the checks themselves propagates as it is.
    try {
      gateway = await port(S.gateway);
      objectStore = await port(S.objectStore);
    } catch (err) {
      return [{ check: "port-forward", ok: false, detail: (err as Error).message }];
    }
    // The model the checks read, with the forwarded loopback ports where compose publishes host ports.
    const seen: StackModel = {
      ...model,
      ports: { gateway: gateway ?? model.ports.gateway, objectStore: objectStore ?? model.ports.objectStore },
    };
    return await smoke(seen, cluster.namespace, secrets, reporter, {
      execInAirflowApi: (args) =>
        cluster.kubectl(["exec", "--namespace", cluster.namespace, `deploy/${S.airflowApi}`, "--", ...args]),
    });
  } finally {
    for (const f of forwards) f.child.kill();
  }
}
