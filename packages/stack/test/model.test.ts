// The model and what is rendered from it, checked for meaning: the promises the seed report broke cannot come back.
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildModel, checkModel, ModelError, PROFILES, S, scrapeJobs } from "../src/index.js";
import { credentialProblems } from "../src/model/profiles.js";
import { PRIVATE, rendered } from "./fixtures.js";

interface ComposeService {
  image: string;
  container_name?: string;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart: string;
  environment?: Record<string, string>;
  volumes?: string[];
  deploy: { resources: { limits: unknown; reservations?: { devices: Array<{ capabilities: string[] }> } } };
}
const composeOf = (profile: (typeof PROFILES)[number]) => {
  const r = rendered(profile);
  const doc = parse(r.files.get("compose.yaml")!) as { services: Record<string, ComposeService>; volumes: object };
  return { ...r, doc };
};

describe.each(PROFILES)("profile %s: the compose file", (profile) => {
  const { doc, model, files } = composeOf(profile);

  it("names no container: compose names them per project, so deployments never collide", () => {
    expect(files.get("compose.yaml")).not.toMatch(/container_name/);
    for (const s of Object.values(doc.services)) expect(s.container_name).toBeUndefined();
  });

  it("gives every long-running service a healthcheck, and the one-shot none but restart: no", () => {
    for (const [name, s] of Object.entries(doc.services)) {
      if (name === S.airflowInit) {
        expect(s.restart).toBe("no");
        expect(s.healthcheck).toBeUndefined();
      } else {
        expect(s.healthcheck?.test?.length, name).toBeGreaterThan(1);
        expect(s.restart).toBe("unless-stopped");
      }
    }
  });

  it("makes every Airflow role wait for the init to complete, and the init for healthy postgres and redis", () => {
    const roles = Object.keys(doc.services).filter((n) => n.startsWith("airflow-") && n !== S.airflowInit);
    expect(roles.length).toBe(5);
    for (const role of roles) {
      expect(doc.services[role]!.depends_on?.[S.airflowInit]).toEqual({ condition: "service_completed_successfully" });
    }
    expect(doc.services[S.airflowInit]!.depends_on).toEqual({
      postgres: { condition: "service_healthy" },
      redis: { condition: "service_healthy" },
    });
  });

  it("binds every published port to 127.0.0.1, except the gateway", () => {
    for (const [name, s] of Object.entries(doc.services)) {
      for (const port of s.ports ?? []) {
        const bind = port.split(":")[0];
        if (name === S.gateway) continue;
        expect(bind, `${name} ${port}`).toBe("127.0.0.1");
      }
    }
    expect(doc.services[S.gateway]!.ports?.[0]).toBe(profile === "lab" ? "127.0.0.1:8088:8080" : "0.0.0.0:8088:8080");
  });

  it("deploys every image by digest from the private registry", () => {
    for (const [name, s] of Object.entries(doc.services)) {
      expect(s.image, name).toMatch(new RegExp(`^${PRIVATE.replace(/\./g, "\\.")}/.+@sha256:[a-f0-9]{64}$`));
    }
    expect(doc.services[S.reconstruction]!.image).toContain("/e2e3d/reconstruction");
  });

  it("uses named volumes only (config files are read-only mounts of generated files)", () => {
    const named = new Set(Object.keys(doc.volumes));
    for (const [name, s] of Object.entries(doc.services)) {
      for (const v of s.volumes ?? []) {
        const [source, , mode] = v.split(":");
        if (source!.startsWith("./")) {
          expect(mode, `${name} ${v}`).toBe("ro");
          expect(files.has(source!.slice(2)) || [...files.keys()].some((f) => f.startsWith(source!.slice(2))), v).toBe(
            true,
          );
        } else expect(named.has(source!), `${name} ${v}`).toBe(true);
      }
    }
    expect(model.volumes).toContain("postgres-data");
  });

  it("holds no credential: only E2E3D_SECRET_* references, and no well-known default anywhere", () => {
    for (const [path, text] of files) {
      expect(text, path).not.toMatch(/minioadmin|temporary_key|admin\/admin|admin:admin/i);
    }
    expect(credentialProblems(model)).toEqual([]);
    const env = doc.services[S.postgres]!.environment!;
    expect(env["POSTGRES_PASSWORD"]).toMatch(/^\$\{E2E3D_SECRET_POSTGRES_PASSWORD:\?/);
  });

  it("feeds Airflow's StatsD mapping to the exporter, and recreates it when the mapping changes", () => {
    const exporter = doc.services[S.statsdExporter]! as ComposeService & {
      command: string[];
      labels: Record<string, string>;
    };
    expect(exporter.command).toContain("--statsd.mapping-config=/etc/statsd/mapping.yml");
    expect(exporter.volumes).toContain("./statsd/mapping.yml:/etc/statsd/mapping.yml:ro");
    expect(files.get("statsd/mapping.yml")).toMatch(/airflow_ti_finish/);
    expect(exporter.labels["io.e2e3d.config-hash"]).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it("sets the sized resource limits on every service", () => {
    // The sizing, written out: a changed or dropped limit must show up here, not pass as "some limits exist".
    const LIMITS: Record<string, { cpus: string; memory: string }> = {
      objectstore: { cpus: "1", memory: "1024M" },
      postgres: { cpus: "1", memory: "1024M" },
      redis: { cpus: "0.5", memory: "512M" },
      "airflow-init": { cpus: "1", memory: "1024M" },
      "airflow-api-server": { cpus: "1", memory: "1536M" },
      "airflow-scheduler": { cpus: "1", memory: "1536M" },
      "airflow-dag-processor": { cpus: "1", memory: "1536M" },
      "airflow-triggerer": { cpus: "0.5", memory: "1024M" },
      "airflow-worker": { cpus: "1", memory: "2048M" },
      reconstruction: { cpus: "2", memory: "4096M" },
      "statsd-exporter": { cpus: "0.25", memory: "128M" },
      prometheus: { cpus: "1", memory: "1024M" },
      grafana: { cpus: "0.5", memory: "512M" },
      gateway: { cpus: "0.5", memory: "256M" },
    };
    const expected = Object.fromEntries(Object.keys(doc.services).map((name) => [name, LIMITS[name]]));
    expect(Object.fromEntries(Object.entries(doc.services).map(([n, s]) => [n, s.deploy.resources.limits]))).toEqual(
      expected,
    );
    for (const name of Object.keys(doc.services)) expect(LIMITS[name], `no sized limits for ${name}`).toBeDefined();
  });

  it("scrapes every metrics endpoint the model declares", () => {
    const prom = parse(files.get("prometheus/prometheus.yml")!) as {
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const scraped = prom.scrape_configs.map((c) => `${c.static_configs[0]!.targets[0]}${c.metrics_path}`);
    const declared = model.services.flatMap((s) => s.metrics.map((m) => `${s.name}:${m.port}${m.path}`));
    expect(declared.length).toBeGreaterThanOrEqual(3);
    expect(scraped.sort()).toEqual(declared.sort());
    expect(scrapeJobs(model).map((j) => j.job)).toContain(S.reconstruction);
    expect(prom.rule_files).toEqual(["alerts.yml"]);
    const alerts = parse(files.get("prometheus/alerts.yml")!) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    const rules = alerts.groups.flatMap((g) => g.rules);
    expect(rules.find((r) => r.alert === "ServiceDown")?.expr).toBe("up == 0");
    expect(rules.some((r) => /failure/.test(r.expr))).toBe(true);
  });

  it("routes every gateway path to a service that exists and listens on that port", () => {
    const nginx = files.get("nginx/nginx.conf")!;
    const upstreams = [...nginx.matchAll(/set \$\w+ http:\/\/([a-z0-9-]+):(\d+);/g)].map(
      (m) => [m[1]!, Number(m[2])] as const,
    );
    const routes = model.services.flatMap((s) => s.routes);
    expect(upstreams.length).toBe(routes.length);
    for (const [host, port] of upstreams) {
      const service = model.services.find((s) => s.name === host);
      expect(service, host).toBeDefined();
      expect(service!.ports.map((p) => p.container)).toContain(port);
    }
    for (const r of routes) {
      expect(nginx).toContain(`location = ${r.prefix.slice(0, -1)} { return 301 ${r.prefix}; }`);
    }
    expect(nginx).toContain("location = /healthz");
    expect(nginx).toMatch(/location = \/ \{ return 302 \/airflow\/; \}/);
  });

  it("the gateway waits for every service it routes to", () => {
    const routed = model.services
      .filter((s) => s.routes.length > 0)
      .map((s) => s.name)
      .sort();
    expect(Object.keys(doc.services[S.gateway]!.depends_on ?? {}).sort()).toEqual(routed);
  });
});

describe("profile differences", () => {
  it("production routes the API, Airflow, the object store console, Grafana and Prometheus, with WebSockets where needed", () => {
    const { files } = rendered("production");
    const nginx = files.get("nginx/nginx.conf")!;
    for (const prefix of ["/api/", "/airflow/", "/objectstore/", "/grafana/", "/prometheus/"]) {
      expect(nginx).toContain(`location ${prefix} {`);
    }
    const grafanaBlock = nginx.slice(nginx.indexOf("location /grafana/ {"));
    expect(grafanaBlock.slice(0, grafanaBlock.indexOf("}"))).toContain("proxy_set_header Upgrade $http_upgrade;");
    expect(files.get("grafana/provisioning/datasources/prometheus.yaml")).toContain(
      "http://prometheus:9090/prometheus",
    );
    const dashboard = JSON.parse(files.get("grafana/dashboards/e2e3d-overview.json")!) as {
      panels: Array<{ title: string }>;
    };
    expect(dashboard.panels.map((p) => p.title).join(" | ")).toMatch(/jobs.*duration.*Failures.*health/is);
  });

  it("lab leaves Grafana out entirely and runs the S3 stand-in's way (no console, no MinIO-only options)", () => {
    const { doc, files, model } = composeOf("lab");
    expect(doc.services[S.grafana]).toBeUndefined();
    expect([...files.keys()].some((f) => f.startsWith("grafana/"))).toBe(false);
    expect(files.get("nginx/nginx.conf")).not.toMatch(/grafana|objectstore/);
    expect(doc.services[S.objectStore]!.ports).toEqual(["127.0.0.1:9000:9000"]);
    expect(JSON.stringify(doc.services[S.objectStore])).not.toMatch(/console-address|MINIO_BROWSER|MINIO_PROMETHEUS/);
    expect(model.notes.some((n) => /Grafana is not deployed/.test(n))).toBe(true);
  });

  it("gpu reserves a GPU for the reconstruction service, and only for it", () => {
    const { doc } = composeOf("gpu");
    expect(doc.services[S.reconstruction]!.image).toContain("/e2e3d/reconstruction-gpu@");
    expect(doc.services[S.reconstruction]!.deploy.resources.reservations?.devices[0]?.capabilities).toEqual(["gpu"]);
    const others = Object.entries(doc.services).filter(
      ([n, s]) => n !== S.reconstruction && s.deploy.resources.reservations,
    );
    expect(others).toEqual([]);
    expect(composeOf("production").doc.services[S.reconstruction]!.deploy.resources.reservations).toBeUndefined();
  });
});

describe("the model's own checks", () => {
  it("refuses a default credential typed into a service", () => {
    const model = buildModel({ profile: "production" });
    const objectStore = model.services.find((s) => s.name === S.objectStore)!;
    objectStore.environment["MINIO_ROOT_PASSWORD"] = "minioadmin";
    expect(() => checkModel(model)).toThrow(ModelError);
    expect(credentialProblems(model).join("\n")).toMatch(
      /MINIO_ROOT_PASSWORD contains a well-known default.*\n.*must be a generated secret/,
    );
  });

  it("refuses a route to a port the service does not listen on, and a second service beyond loopback", () => {
    const model = buildModel({ profile: "production" });
    model.services.find((s) => s.name === S.grafana)!.routes[0]!.port = 1234;
    model.services.find((s) => s.name === S.objectStore)!.ports[0]!.publish!.bind = "all";
    expect(() => checkModel(model)).toThrow(/only the gateway may bind beyond loopback \(port 9000\)/);
    expect(() => checkModel(model)).toThrow(/route \/grafana\/ points at port 1234/);
  });

  it("refuses a dependency on a service the profile does not have", () => {
    const model = buildModel({ profile: "lab" });
    model.services
      .find((s) => s.name === S.gateway)!
      .dependsOn.push({ service: S.grafana, condition: "service_healthy" });
    expect(() => checkModel(model)).toThrow(/depends on grafana, which is not in the lab profile/);
  });

  it("rejects an unknown profile with the list of valid ones", () => {
    expect(() => buildModel({ profile: "staging" as never })).toThrow(ModelError);
    try {
      buildModel({ profile: "staging" as never });
    } catch (err) {
      expect((err as ModelError).hint).toBe("choose one of production, lab, gpu");
    }
  });
});

describe("snapshot", () => {
  it("the lab compose file is stable (review diffs here when the model changes)", () => {
    expect(rendered("lab").files.get("compose.yaml")).toMatchSnapshot();
  });
});
