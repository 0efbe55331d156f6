// The chart against real tools: helm lint --strict, kubeconform -strict with the lab's schemas, and the lab's
// kube-apiserver (etcd, full admission chain, PodSecurity `restricted` on the namespace) accepting every object in a
// server-side dry run; then deploy.ts --target kubernetes --dry-run against it. The lab's API server has no kubelet:
// pods never run there, so rollout and smoke are not proven here (see README, Moving to Kubernetes).
// Needs `npx tsx tools/lab/src/cli.ts kube up` (CI: the lab:kube-up target); the deploy part also the prepared lab.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { stringify } from "yaml";
import { describeUnless } from "../../../tools/skips/src/skip.js";
import { writeFiles } from "../src/deploy/state.js";
import { Cluster, COMPOSE_FILE, type KubeTools, type ProfileName } from "../src/index.js";
import { renderChart } from "../src/render/kubernetes/index.js";
import { composeViews, disagreements, kubeViews, manifestDocs } from "./agreement.js";
import { fakeDigest, LOCK, rendered } from "./fixtures.js";
import { LAB_HOME, LAB_LOCK, uniqueProject } from "./lab.js";

interface KubeJson {
  kubeconfig: string;
  binDir: string;
  schemaLocation: string;
  tools: { kubectl: string; helm: string; kubeconform: string };
}

const KUBE_JSON = join(LAB_HOME, "kube", "kube.json");
const ROOT = resolve(import.meta.dirname, "..", "..", "..");
const BUILD_REPORT = join(ROOT, "reports", "build.json");

/** The lab's kube, or why it cannot be used: written by `kube up`, and its API server answering /readyz now. */
function labKube(): { kube?: KubeJson; reason?: string } {
  const up = "bring it up: npx tsx tools/lab/src/cli.ts kube up";
  if (!existsSync(KUBE_JSON))
    return { reason: `the lab's Kubernetes API server was never brought up (${KUBE_JSON}); ${up}` };
  const kube = JSON.parse(readFileSync(KUBE_JSON, "utf8")) as KubeJson;
  const ready = spawnSync(kube.tools.kubectl, ["--kubeconfig", kube.kubeconfig, "get", "--raw", "/readyz"], {
    encoding: "utf8",
    timeout: 20_000,
  });
  if (ready.status !== 0) {
    return {
      reason: `the lab's kube-apiserver does not answer /readyz (${(ready.stderr || "timeout").trim().slice(0, 200)}); ${up}`,
    };
  }
  return { kube };
}

const { kube, reason } = labKube();
const PROFILES: ProfileName[] = ["production", "gpu", "lab"];
let workDir: string | undefined;
/** Made on first use: a skipped suite leaves nothing behind. */
const work = () => {
  workDir ??= mkdtempSync(join(tmpdir(), "e2e3d-kube-int-"));
  return workDir;
};
const namespace = uniqueProject("e2e3d-int");
// The charts, state dirs (with their generated secrets) and kubeconfigs the suites wrote.
afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const tools = (): KubeTools => ({ helm: kube!.tools.helm, kubectl: kube!.tools.kubectl });
const sh = (command: string, args: string[], input?: string) =>
  spawnSync(command, args, { encoding: "utf8", timeout: 300_000, ...(input !== undefined ? { input } : {}) });

/** Each profile's chart, rendered from the fixture lock and build report, and its `helm template` output. */
const charts = new Map<ProfileName, { dir: string; manifest: string; compose: string }>();

describeUnless(reason)("the chart against the lab's helm, kubeconform and kube-apiserver", () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = new Cluster(tools(), kube!.kubeconfig, namespace);
    // A namespace with PodSecurity `restricted` enforced and warned, as deploy creates it: in a dry run the warning
    // about a workload's pod template is what refuses it (enforce acts on pods, which no controller makes here).
    const ns = stringify({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: {
        name: namespace,
        labels: { "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/warn": "restricted" },
      },
    });
    await cluster.apply(ns, "the test namespace", { dryRun: false });
    for (const profile of PROFILES) {
      const { model, images, files } = rendered(profile);
      const dir = join(work(), profile);
      writeFiles(dir, renderChart(model, images).files);
      charts.set(profile, { dir, manifest: await cluster.template("e2e3d", dir), compose: files.get(COMPOSE_FILE)! });
    }
  });

  afterAll(() => {
    sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, "delete", "namespace", namespace, "--wait=false"]);
  });

  it.each(PROFILES)("helm lint --strict is clean (%s)", async (profile) => {
    expect(await cluster.lint(charts.get(profile)!.dir)).toBeUndefined();
  });

  it.each(PROFILES)("kubeconform -strict accepts every object of helm template (%s)", (profile) => {
    const args = ["-strict", "-summary", "-schema-location", kube!.schemaLocation, "-"];
    const result = sh(kube!.tools.kubeconform, args, charts.get(profile)!.manifest);
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toMatch(/Invalid: 0, Errors: 0, Skipped: 0/);
  });

  it.each(PROFILES)("the API server accepts every object in a server-side dry run (%s)", async (profile) => {
    const manifest = charts.get(profile)!.manifest;
    const output = await cluster.apply(manifest, `the ${profile} chart`, { dryRun: true });
    const objects = manifestDocs(manifest).length;
    expect(objects).toBeGreaterThan(20);
    expect(
      output
        .trim()
        .split("\n")
        .filter((l) => l.includes("serverside-applied (server dry run)")),
    ).toHaveLength(objects);
  });

  it.each(PROFILES)("helm template output agrees with the compose file service by service (%s)", (profile) => {
    const { manifest, compose } = charts.get(profile)!;
    expect(disagreements(composeViews(compose), kubeViews(manifestDocs(manifest)))).toEqual([]);
  });

  it("a namespace is absent only when the API server says NotFound; any other failure carries kubectl's stderr", async () => {
    expect(
      await new Cluster(tools(), kube!.kubeconfig, uniqueProject("e2e3d-absent")).namespaceLabels(),
    ).toBeUndefined();
    expect(await cluster.namespaceLabels()).toMatchObject({ "pod-security.kubernetes.io/warn": "restricted" });
    // A user the API server does not know: Unauthorized says nothing about whether the namespace exists.
    const stranger = join(work(), "stranger-kubeconfig");
    writeFileSync(
      stranger,
      readFileSync(kube!.kubeconfig, "utf8").replace(
        /user:\n\s+client-certificate: .*\n\s+client-key: .*\n/,
        "user:\n      token: not-a-valid-token\n",
      ),
    );
    await expect(new Cluster(tools(), stranger, namespace).namespaceLabels()).rejects.toMatchObject({
      message: `kubectl get namespace ${namespace} failed`,
      logTail: expect.stringMatching(/Unauthorized/),
    });
  });

  it("the dry run can fail: admission refuses a pod that runs as root in the restricted namespace", async () => {
    const manifest = charts.get("production")!.manifest.replace(/runAsUser: \d+/, "runAsUser: 0");
    await expect(cluster.apply(manifest, "a root pod", { dryRun: true })).rejects.toThrow(/refused/);
    await cluster.apply(manifest, "a root pod", { dryRun: true }).catch((err: { logTail?: string }) => {
      expect(err.logTail).toMatch(/would violate PodSecurity "restricted:latest": runAsUser=0/);
    });
  });
});

const deployReason =
  reason ??
  (!existsSync(LAB_LOCK) || !existsSync(BUILD_REPORT)
    ? `no prepared lab delivery (${LAB_LOCK}, ${BUILD_REPORT}): run npx tsx pipelines/prepare.ts`
    : undefined);

/**
 * deploy.ts --target kubernetes against the lab's API server, with the prepared lab delivery (`lab`) or with the unit
 * tests' lock and build report (`fixture`: made-up digests, so the registry check fails; fine where a test expects
 * an earlier refusal).
 */
function deploy(inputs: "lab" | "fixture", ...args: string[]) {
  const source =
    inputs === "lab"
      ? ["--lab", "--skip-prepare", "--build-report", BUILD_REPORT]
      : ["--profile", "production", "--lock", join(work(), "lock.json"), "--build-report", join(work(), "build.json")];
  if (inputs === "fixture") {
    writeFileSync(join(work(), "lock.json"), JSON.stringify(LOCK));
    const names = ["reconstruction", "reconstruction-gpu", "airflow"];
    const images = names.map((name) => ({ name, reference: `127.0.0.1:5102/e2e3d/${name}@${fakeDigest(name)}` }));
    writeFileSync(join(work(), "build.json"), JSON.stringify({ images }));
  }
  return spawnSync(
    process.execPath,
    [
      ...["--import", "tsx", join(ROOT, "pipelines", "deploy.ts"), "--target", "kubernetes", ...source],
      ...["--kubeconfig", kube!.kubeconfig, "--state-dir", join(work(), "state"), ...args],
    ],
    { encoding: "utf8", cwd: ROOT, timeout: 300_000 },
  );
}

/** A namespace as the README has the user make it; deleted after the suite. */
function labelledNamespace(): string {
  const name = uniqueProject("e2e3d-deploy");
  const kubectl = (...args: string[]) => sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, ...args]);
  beforeAll(() => {
    kubectl("create", "namespace", name);
    kubectl(
      "label",
      "namespace",
      name,
      ...["enforce", "warn"].map((m) => `pod-security.kubernetes.io/${m}=restricted`),
    );
  });
  afterAll(() => {
    kubectl("delete", "namespace", name, "--wait=false");
  });
  return name;
}

describeUnless(deployReason)("deploy.ts --target kubernetes --dry-run on the prepared lab delivery", () => {
  const namespace = labelledNamespace();

  it("exits 0: every object accepted, nothing changed, and it says pods do not run here", () => {
    const result = deploy("lab", "--namespace", namespace, "--dry-run", "--json");
    expect(result.status, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as { outcome: string; objects: string[]; profile: string };
    expect(summary.outcome).toBe("validated");
    expect(summary.profile).toBe("lab");
    expect(summary.objects.length).toBeGreaterThan(20);
    expect(result.stderr).toMatch(/does not run pods/);
    const kinds = "all,configmaps,secrets,persistentvolumeclaims,ingresses";
    const left = sh(kube!.tools.kubectl, [
      "--kubeconfig",
      kube!.kubeconfig,
      "get",
      kinds,
      "-n",
      namespace,
      "-o",
      "name",
    ]);
    expect(left.status, left.stderr).toBe(0);
    expect(left.stdout.split("\n").filter((l) => l && !l.includes("kube-root-ca.crt"))).toEqual([]);
  });
});

describeUnless(deployReason)("deploy.ts --target kubernetes apply on the lab's API server (it runs no pods)", () => {
  const namespace = uniqueProject("e2e3d-apply");
  const kubectl = (...args: string[]) =>
    sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, "--namespace", namespace, ...args]);
  afterAll(() => {
    kubectl("delete", "namespace", namespace, "--wait=false");
  });

  it("applies namespace, Secret and objects, then fails the rollout at its deadline naming the workload", () => {
    const result = deploy("lab", "--namespace", namespace, "--rollout-timeout", "15");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /error: deploy failed: (Deployment|StatefulSet|Job)\/\S+; this is the first deployment, nothing to roll back to/,
    );
    expect(result.stderr).toMatch(/no pod exists for it/);
    const labels = kubectl("get", "namespace", namespace, "-o", "jsonpath={.metadata.labels}");
    expect(labels.stdout).toMatch(/"pod-security.kubernetes.io\/enforce":"restricted"/);
    const keys = kubectl("get", "secret", "e2e3d-secrets", "-o", "jsonpath={.data}");
    expect(Object.keys(JSON.parse(keys.stdout) as object)).toContain("E2E3D_SECRET_POSTGRES_PASSWORD");
    expect(kubectl("get", "deployment", "reconstruction", "-o", "name").stdout.trim()).toBe(
      "deployment.apps/reconstruction",
    );
    // The Secret's values went in through stdin: none of them is in what deploy printed.
    const secrets = readFileSync(join(work(), "state", "e2e3d-lab", "secrets.env"), "utf8");
    for (const line of secrets.split("\n").filter((l) => l.startsWith("E2E3D_SECRET_"))) {
      const value = line.slice(line.indexOf("=") + 1);
      expect(result.stderr + result.stdout).not.toContain(value);
    }
  });
});

describeUnless(reason)("deploy.ts --target kubernetes refusals against the lab's API server", () => {
  const namespace = labelledNamespace();

  it("bad values exit 1 with the message, before the cluster is asked anything", () => {
    const values = join(work(), "secret-values.yaml");
    writeFileSync(values, "secrets:\n  name: s\n  redis_password: hunter2hunter2\n");
    const result = deploy("fixture", "--namespace", namespace, "--dry-run", "--values", values);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/secret value at secrets\.redis_password/);
    expect(result.stderr).not.toMatch(/preflight/);
  });

  it("a namespace that does not exist: exit 1, how to create it, and it is not created", () => {
    const absent = uniqueProject("e2e3d-absent");
    const result = deploy("fixture", "--namespace", absent, "--dry-run");
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/namespace e2e3d-absent-\S+: does not exist; a server-side dry run of namespaced/);
    expect(result.stderr).toMatch(/fix: create it: kubectl create namespace e2e3d-absent-/);
    const get = sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, "get", "namespace", absent]);
    expect(get.status).not.toBe(0);
  });

  it("an API server that does not answer: exit 1 in preflight, naming the kubeconfig", () => {
    const dead = join(work(), "dead-kubeconfig");
    writeFileSync(
      dead,
      readFileSync(kube!.kubeconfig, "utf8").replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        "server: https://127.0.0.1:9",
      ),
    );
    const result = deploy("fixture", "--namespace", namespace, "--dry-run", "--kubeconfig", dead);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/\[cluster\] .*dead-kubeconfig: the API server is not ready/);
  });
});

describeUnless(deployReason)("deploy.ts --target kubernetes failures after apply on the lab's API server", () => {
  const namespace = uniqueProject("e2e3d-rollback");
  const project = "e2e3d-rb";
  const state = join(work(), "state", project, "kubernetes");
  const policy = `${namespace}-deny-configmaps`;
  const kubectl = (...args: string[]) =>
    sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, "--namespace", namespace, ...args]);
  const run = () => deploy("lab", "--namespace", namespace, "--project", project, "--rollout-timeout", "5");
  beforeAll(() => {
    // An existing namespace without PodSecurity labels: deploy labels it, so it must dry-run again after.
    expect(kubectl("create", "namespace", namespace).status).toBe(0);
  });
  afterAll(() => {
    kubectl("delete", "validatingadmissionpolicybinding,validatingadmissionpolicy", policy, "--ignore-not-found");
    kubectl("delete", "namespace", namespace, "--wait=false");
  });

  it("an existing namespace that did not warn restricted is dry-run again after deploy labels it", () => {
    const result = run();
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/is not labelled pod-security.kubernetes.io\/warn=restricted/);
    expect(result.stderr).toMatch(/now warns PodSecurity restricted: server-side dry run again/);
    expect(result.stderr).toMatch(/this is the first deployment, nothing to roll back to/);
  });

  it("a rollback deletes the objects only the failed render has (a Job named by its spec hash)", async () => {
    // A last good deployment whose render lacks one of this render's Jobs, as after an image change.
    const manifest = await new Cluster(tools(), kube!.kubeconfig, namespace).template(project, join(state, "chart"));
    // The render's own text, less the Job's document: re-serialising it could change how kubectl reads a value.
    const docs = manifest.split(/^---$/m);
    const jobDoc = docs.find((d) => /^kind: Job$/m.test(d))!;
    const job = /^ {2}name: (\S+)$/m.exec(jobDoc)![1]!;
    expect(kubectl("get", "job", job, "-o", "name").stdout.trim()).toBe(`job.batch/${job}`);
    writeFileSync(join(state, "last-good.yaml"), docs.filter((d) => d !== jobDoc).join("---"));
    const good = { id: "good", at: "2026-01-01T00:00:00.000Z", profile: "lab", images: {}, outcome: "succeeded" };
    writeFileSync(join(state, "deployments.json"), JSON.stringify([good]));

    const result = run();
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(/dry run again/);
    // No kubelet: the last good render does not roll out either, but what only the failed render had is gone.
    expect(result.stderr).toMatch(/the rollback failed too \((Deployment|StatefulSet|Job)\/\S+\)/);
    expect(result.stderr).toContain(`removed 1 object(s) only in the failed render: Job/${job}`);
    const gone = kubectl("get", "job", job, "-o", "name");
    expect(gone.stderr).toMatch(/\(NotFound\)/);
    expect(kubectl("get", "deployment", "reconstruction", "-o", "name").stdout.trim()).toBe(
      "deployment.apps/reconstruction",
    );
  });

  it("an apply the API server refuses is recorded and rolled back; a failed rollback keeps the first failure", () => {
    // A stand-in for a quota or a webhook: ConfigMaps are refused outside a dry run, so preflight passes.
    const deny = [
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicy",
        metadata: { name: policy },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: {
            resourceRules: [
              { apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["configmaps"] },
            ],
          },
          validations: [{ expression: "request.dryRun == true", message: "e2e3d test: no ConfigMaps here" }],
        },
      },
      {
        apiVersion: "admissionregistration.k8s.io/v1",
        kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name: policy },
        spec: {
          policyName: policy,
          validationActions: ["Deny"],
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } } },
        },
      },
    ];
    const created = sh(
      kube!.tools.kubectl,
      ["--kubeconfig", kube!.kubeconfig, "apply", "-f", "-"],
      deny.map((d) => stringify(d)).join("---\n"),
    );
    expect(created.status, created.stderr).toBe(0);
    // Created again, not left unchanged: the policy sees a CREATE.
    expect(kubectl("delete", "configmaps", "--all").status).toBe(0);
    const probe = () =>
      sh(kube!.tools.kubectl, ["--kubeconfig", kube!.kubeconfig, "-n", namespace, "create", "configmap", "probe"]);
    for (let i = 0; i < 20 && probe().status === 0; i++) {
      kubectl("delete", "configmap", "probe");
      spawnSync("sleep", ["0.5"]);
    }

    const result = run();
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toMatch(
      /error: deploy failed: apply; the rollback failed too \(apply of the last good render\)/,
    );
    expect(result.stderr).toMatch(/e2e3d test: no ConfigMaps here/);
    const records = JSON.parse(readFileSync(join(state, "deployments.json"), "utf8")) as {
      outcome: string;
      note?: string;
    }[];
    expect(records.at(-1)).toMatchObject({
      outcome: "failed",
      note: expect.stringMatching(/^apply: the API server refused the chart/),
    });
  });
});
