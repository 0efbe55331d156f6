// Compose and Kubernetes renderings of one model, seen side by side per service: image, command and args, env (keys,
// plain values, which secret a value comes from), container ports, healthcheck/probe command and timing. Used by the
// unit test (the renderer's objects) and the integration test (real `helm template` output).
import { parse, parseAllDocuments } from "yaml";

export interface ContainerView {
  image: string;
  command?: string[];
  args?: string[];
  /** name → plain value, or `secret:<variable>` for a value that is exactly one secret. */
  env: Record<string, string>;
  ports: number[];
  probe?: { command: string[]; periodS: number; timeoutS: number; retries: number };
}

// Compose: `${E2E3D_SECRET_X:?message}` and `$$` (a literal `$`). Kubernetes: `$(E2E3D_SECRET_X)` and `$$(` (a literal `$(`).
const composeText = (s: string) => s.replace(/\$\{(E2E3D_SECRET_[A-Z0-9_]+):\?[^}]*\}/g, "$($1)").replace(/\$\$/g, "$");
const kubeText = (s: string) => s.replace(/\$\$\(/g, "$(");
const sortedEntries = (entries: [string, string][]) =>
  Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
const seconds = (d: string) => Number(/^(\d+)s$/.exec(d)?.[1] ?? Number.NaN);

interface ComposeService {
  image: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number };
}

export function composeViews(composeYaml: string): Map<string, ContainerView> {
  const file = parse(composeYaml, { maxAliasCount: -1 }) as { services: Record<string, ComposeService> };
  const views = new Map<string, ContainerView>();
  for (const [name, s] of Object.entries(file.services)) {
    const env = sortedEntries(
      Object.entries(s.environment ?? {}).map(([k, v]) => {
        const whole = /^\$\{(E2E3D_SECRET_[A-Z0-9_]+):\?[^}]*\}$/.exec(String(v));
        return [k, whole ? `secret:${whole[1]}` : composeText(String(v))];
      }),
    );
    const h = s.healthcheck;
    const [kind, ...test] = h?.test ?? [];
    views.set(name, {
      image: s.image,
      ...(s.entrypoint ? { command: s.entrypoint.map(composeText) } : {}),
      ...(s.command ? { args: s.command.map(composeText) } : {}),
      env,
      ports: (s.ports ?? []).map((p) => Number(p.split(":").at(-1)!.split("/")[0])).sort((a, b) => a - b),
      ...(h
        ? {
            probe: {
              command: kind === "CMD-SHELL" ? ["/bin/sh", "-c", composeText(test.join(" "))] : test.map(composeText),
              periodS: seconds(h.interval),
              timeoutS: seconds(h.timeout),
              retries: h.retries,
            },
          }
        : {}),
    });
  }
  return views;
}

interface KubeContainer {
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>;
  ports?: Array<{ containerPort: number }>;
  readinessProbe?: {
    exec: { command: string[] };
    periodSeconds: number;
    timeoutSeconds: number;
    failureThreshold: number;
  };
}

interface KubeObject {
  kind: string;
  metadata: { name: string };
  spec: { template?: { metadata: { labels: Record<string, string> }; spec: { containers: KubeContainer[] } } };
}

/** Workload objects (Deployment, StatefulSet, Job) → the view of their one container, keyed by the service name. */
export function kubeViews(objects: unknown[], images?: Record<string, string>): Map<string, ContainerView> {
  const views = new Map<string, ContainerView>();
  for (const o of objects as KubeObject[]) {
    const template = o?.spec?.template;
    if (!template) continue;
    const name = template.metadata.labels["app.kubernetes.io/name"]!;
    const c = template.spec.containers[0]!;
    const env = c.env ?? [];
    const referenced = new Set(
      [c.command, c.args, env.map((e) => e.value)]
        .flat(2)
        .join("\n")
        .match(/\$\(E2E3D_SECRET_[A-Z0-9_]+\)/g),
    );
    views.set(name, {
      image: images?.[name] ?? c.image,
      ...(c.command ? { command: c.command.map(kubeText) } : {}),
      ...(c.args ? { args: c.args.map(kubeText) } : {}),
      env: sortedEntries(
        env
          // The helpers that $(E2E3D_SECRET_X) expands are Kubernetes' form of compose's interpolation, not env keys.
          .filter((e) => !referenced.has(`$(${e.name})`))
          .map((e) => [
            e.name,
            e.valueFrom?.secretKeyRef ? `secret:${e.valueFrom.secretKeyRef.key}` : kubeText(e.value ?? ""),
          ]),
      ),
      ports: (c.ports ?? []).map((p) => p.containerPort).sort((a, b) => a - b),
      ...(c.readinessProbe
        ? {
            probe: {
              command: c.readinessProbe.exec.command,
              periodS: c.readinessProbe.periodSeconds,
              timeoutS: c.readinessProbe.timeoutSeconds,
              retries: c.readinessProbe.failureThreshold,
            },
          }
        : {}),
    });
  }
  return views;
}

/** `helm template` output → its objects. */
export const manifestDocs = (manifest: string): unknown[] =>
  parseAllDocuments(manifest)
    .map((d) => d.toJS())
    .filter(Boolean);

/** Every way the two renderings differ, one line each (empty when they agree). Compose publishes only some ports. */
export function disagreements(compose: Map<string, ContainerView>, kube: Map<string, ContainerView>): string[] {
  const out: string[] = [];
  const names = new Set([...compose.keys(), ...kube.keys()]);
  for (const name of [...names].sort()) {
    const c = compose.get(name);
    const k = kube.get(name);
    if (!c || !k) {
      out.push(`${name}: only in ${c ? "compose" : "kubernetes"}`);
      continue;
    }
    const same = (what: string, a: unknown, b: unknown) => {
      if (JSON.stringify(a) !== JSON.stringify(b))
        out.push(`${name} ${what}: compose ${JSON.stringify(a)} vs kubernetes ${JSON.stringify(b)}`);
    };
    same("image", c.image, k.image);
    same("command", c.command, k.command);
    same("args", c.args, k.args);
    same("env", c.env, k.env);
    same("probe", c.probe, k.probe);
    const unlisted = c.ports.filter((p) => !k.ports.includes(p));
    if (unlisted.length)
      out.push(`${name} ports: compose publishes ${unlisted.join(", ")}, not a container port in kubernetes`);
  }
  return out;
}
