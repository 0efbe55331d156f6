// Builds the stack model for a profile: production services, then the profile's changes, then consistency checks
// that make a broken model impossible to render (a route to nowhere, a dependency on a missing service...).
import { ModelError } from "../errors.js";
import { SECRET_NAMES, secretVariable } from "../secrets.js";
import { applyLabDifferences, labNotes } from "./lab.js";
import { BUCKETS, BUILD_NAMES, productionServices, S } from "./services.js";
import type { PortPlan, ProfileName, ServiceSpec, StackModel } from "./types.js";

export const PROFILES: ProfileName[] = ["production", "lab", "gpu"];

export const DEFAULT_PORTS: PortPlan = { gateway: 8088, objectStore: 9000 };

export interface ModelOptions {
  profile: ProfileName;
  ports?: Partial<PortPlan>;
  /** The gateway's public address as browsers see it; defaults to http://localhost:<gateway port>. */
  publicUrl?: string;
  /** Where the gateway binds. Production defaults to all interfaces; the lab to loopback (the lab never binds more). */
  gatewayBind?: "loopback" | "all";
  /**
   * Deploy only these services and what they depend on (e.g. the infrastructure while first-party images are being
   * built). The gateway then routes only to what is deployed.
   */
  only?: string[];
}

/** The gpu profile: production, with the GPU image of the reconstruction service and a GPU reservation. */
function applyGpu(services: ServiceSpec[]): ServiceSpec[] {
  return services.map((s) =>
    s.name === S.reconstruction
      ? {
          ...s,
          image: { kind: "build", name: BUILD_NAMES.reconstructionGpu },
          environment: { ...s.environment, E2E3D_DEVICE: "cuda" },
          gpu: true,
        }
      : s,
  );
}

export function buildModel(options: ModelOptions): StackModel {
  if (!PROFILES.includes(options.profile)) {
    throw new ModelError(`unknown profile ${JSON.stringify(options.profile)}`, {
      hint: `choose one of ${PROFILES.join(", ")}`,
    });
  }
  const ports: PortPlan = { ...DEFAULT_PORTS, ...options.ports };
  const publicUrl = (options.publicUrl ?? `http://localhost:${ports.gateway}`).replace(/\/+$/, "");
  const gatewayBind = options.gatewayBind ?? (options.profile === "lab" ? "loopback" : "all");
  let services = productionServices({ ports, publicUrl, gatewayBind });
  const notes: string[] = [];
  if (options.profile === "lab") {
    services = applyLabDifferences(services);
    notes.push(...labNotes());
  }
  if (options.profile === "gpu") {
    services = applyGpu(services);
    notes.push("gpu: the reconstruction service runs the reconstruction-gpu image with a GPU reservation");
  }
  if (options.only) services = withDependencies(services, options.only);
  services = wireGateway(services);
  const volumes = [
    ...new Set(services.flatMap((s) => s.mounts.flatMap((m) => (m.kind === "volume" ? [m.volume] : [])))),
  ].sort();
  const model: StackModel = {
    profile: options.profile,
    services,
    volumes,
    ports,
    publicUrl,
    gatewayBind: gatewayBind === "all" ? "0.0.0.0" : "127.0.0.1",
    notes,
    buckets: { ...BUCKETS },
  };
  checkModel(model);
  return model;
}

function withDependencies(services: ServiceSpec[], only: string[]): ServiceSpec[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const unknown = only.filter((n) => !byName.has(n));
  if (unknown.length > 0) {
    throw new ModelError(`unknown service(s): ${unknown.join(", ")}`, {
      hint: `choose from ${services.map((s) => s.name).join(", ")}`,
    });
  }
  const keep = new Set<string>();
  const visit = (name: string) => {
    if (keep.has(name)) return;
    keep.add(name);
    for (const d of byName.get(name)!.dependsOn) visit(d.service);
  };
  for (const name of only) visit(name);
  return services.filter((s) => keep.has(s.name));
}

/** The gateway starts once every service it routes to is healthy. */
function wireGateway(services: ServiceSpec[]): ServiceSpec[] {
  const routed = services.filter((s) => s.routes.length > 0).map((s) => s.name);
  return services.map((s) =>
    s.name === S.gateway
      ? { ...s, dependsOn: routed.map((service) => ({ service, condition: "service_healthy" as const })) }
      : s,
  );
}

/** Consistency rules; each violation is a bug in the model, reported all at once. */
export function checkModel(model: StackModel): void {
  const problems: string[] = [];
  const byName = new Map(model.services.map((s) => [s.name, s]));
  if (byName.size !== model.services.length) problems.push("two services share a name");
  const prefixes = new Set<string>();
  for (const s of model.services) {
    if (!/^[a-z][a-z0-9-]*$/.test(s.name)) problems.push(`${s.name}: service names are lowercase DNS labels`);
    if (!s.oneShot && !s.healthcheck) problems.push(`${s.name}: a long-running service needs a healthcheck`);
    for (const d of s.dependsOn) {
      const target = byName.get(d.service);
      if (!target) problems.push(`${s.name}: depends on ${d.service}, which is not in the ${model.profile} profile`);
      else if (d.condition === "service_completed_successfully" && !target.oneShot)
        problems.push(`${s.name}: waits for ${d.service} to complete, but it is not a one-shot`);
      else if (d.condition === "service_healthy" && !target.healthcheck)
        problems.push(`${s.name}: waits for ${d.service} to be healthy, but it has no healthcheck`);
    }
    for (const p of s.ports) {
      if (p.publish?.bind === "all" && s.name !== S.gateway)
        problems.push(`${s.name}: only the gateway may bind beyond loopback (port ${p.publish.host})`);
    }
    for (const r of s.routes) {
      if (!/^\/[a-z0-9-]+\/$/.test(r.prefix)) problems.push(`${s.name}: route ${r.prefix} must look like /name/`);
      if (prefixes.has(r.prefix)) problems.push(`${s.name}: route ${r.prefix} is used twice`);
      prefixes.add(r.prefix);
      if (!s.ports.some((p) => p.container === r.port))
        problems.push(`${s.name}: route ${r.prefix} points at port ${r.port}, which the service does not listen on`);
    }
    for (const m of s.metrics) {
      if (!s.ports.some((p) => p.container === m.port))
        problems.push(`${s.name}: metrics on port ${m.port}, which the service does not listen on`);
    }
  }
  problems.push(...credentialProblems(model));
  const hostPorts = model.services.flatMap((s) => s.ports.flatMap((p) => (p.publish ? [p.publish.host] : [])));
  if (new Set(hostPorts).size !== hostPorts.length) problems.push(`two services publish the same host port`);
  if (problems.length > 0) {
    throw new ModelError(`the ${model.profile} stack model is inconsistent:\n  - ${problems.join("\n  - ")}`, {
      hint: "fix the service definitions in packages/stack/src/model",
    });
  }
}

/** Environment keys that carry a credential: their value must be exactly a secret reference, nothing typed in. */
const CREDENTIAL_KEY = /(PASSWORD|SECRET|FERNET_KEY|ACCESS_KEY|SECRET_KEY|TOKEN|ROOT_USER)$/;
/** Well-known default credentials, anywhere in any value (the seed report shipped the first two). */
export const FORBIDDEN_DEFAULTS = /minioadmin|temporary_key|admin\/admin|admin:admin|changeme|prom-operator/i;

export function credentialProblems(model: StackModel): string[] {
  const problems: string[] = [];
  const refs = new Set(SECRET_NAMES.map((n) => secretVariable(n)));
  for (const s of model.services) {
    for (const [key, value] of Object.entries(s.environment)) {
      if (FORBIDDEN_DEFAULTS.test(value)) problems.push(`${s.name}: ${key} contains a well-known default credential`);
      if (CREDENTIAL_KEY.test(key)) {
        const match = /^\$\{([A-Z0-9_]+):\?[^}]*\}$/.exec(value);
        if (!match || !refs.has(match[1]!))
          problems.push(`${s.name}: ${key} must be a generated secret, not a literal`);
      }
    }
    for (const arg of [...(s.command ?? []), ...(s.healthcheck?.test ?? [])]) {
      if (FORBIDDEN_DEFAULTS.test(arg))
        problems.push(`${s.name}: its command contains a well-known default credential`);
    }
  }
  return problems;
}
