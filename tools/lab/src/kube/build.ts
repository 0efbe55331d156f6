// The lab's Kubernetes tools, built from the Go module proxy (no GitHub, no release downloads on these machines).
// Two pinned wrapper modules, like tools/lab/compose:
//   tools/lab/kube/apiserver: k8s.io/kubernetes (kube-apiserver, kubectl). k8s.io/kubernetes's own go.mod points its
//     staging k8s.io/* modules at ./staging with replace directives, which do not apply to a dependency; so the
//     wrapper requires each of them at the matching v0.34.x release, which the proxy serves.
//   tools/lab/kube/tools: helm.sh/helm/v3 and kubeconform. A separate module, because Helm pins newer k8s.io/*
//     libraries than the API server: one module would force one version on both.
// Go's caches are the lab's (<state>/go, shared with the compose build); each binary is cached by the hash of its
// module's go.mod + go.sum and its link flags, so a second `kube up` builds nothing.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { requiredGoVersion, versionAtLeast } from "../compose.js";
import { CommandFailedError, LabError, tail } from "../errors.js";
import { run, safeRead } from "../exec.js";
import { findGo, goEnvironment } from "../go.js";
import type { Log } from "../progress.js";

export const KUBE_MODULES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "kube");
const APISERVER_MODULE = join(KUBE_MODULES_DIR, "apiserver");
const TOOLS_MODULE = join(KUBE_MODULES_DIR, "tools");

/** Go is missing or older than a wrapper module's `go` line. */
export class KubeToolchainError extends LabError {}

export interface GoTool {
  name: "kube-apiserver" | "kubectl" | "helm" | "kubeconform";
  moduleDir: string;
  /** The main package, built from the wrapper module's requirements. */
  pkg: string;
  version: string;
  ldflags: string;
}

/** The version a wrapper module's go.mod pins for `module`, e.g. "v1.34.4". */
export function pinnedVersion(moduleDir: string, module: string): string {
  const goMod = readFileSync(join(moduleDir, "go.mod"), "utf8");
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const match = new RegExp(`^\\s*${escaped}\\s+(v\\S+)`, "m").exec(goMod);
  if (!match) {
    throw new LabError(`${moduleDir}/go.mod does not require ${module}`, {
      hint: "restore the wrapper module from git (tools/lab/kube/*/go.mod)",
    });
  }
  return match[1]!;
}

/** The four tools, with the link flags that make them report their real versions (Kubernetes' hack/lib/version.sh). */
export function kubeTools(): GoTool[] {
  const kube = pinnedVersion(APISERVER_MODULE, "k8s.io/kubernetes");
  const [major, minor] = kube.replace(/^v/, "").split(".");
  const kubeVersionFlags = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]
    .flatMap((pkg) => [
      `-X ${pkg}.gitVersion=${kube}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
    ])
    .join(" ");
  const helm = pinnedVersion(TOOLS_MODULE, "helm.sh/helm/v3");
  const kubeconform = pinnedVersion(TOOLS_MODULE, "github.com/yannh/kubeconform");
  return [
    {
      name: "kube-apiserver",
      moduleDir: APISERVER_MODULE,
      pkg: "k8s.io/kubernetes/cmd/kube-apiserver",
      version: kube,
      ldflags: `-s -w ${kubeVersionFlags}`,
    },
    {
      name: "kubectl",
      moduleDir: APISERVER_MODULE,
      pkg: "k8s.io/kubernetes/cmd/kubectl",
      version: kube,
      ldflags: `-s -w ${kubeVersionFlags}`,
    },
    {
      name: "helm",
      moduleDir: TOOLS_MODULE,
      pkg: "helm.sh/helm/v3/cmd/helm",
      version: helm,
      // Helm's version package keeps "vMAJOR.MINOR" in `version`; the patch goes in through the same flag.
      ldflags: `-s -w -X helm.sh/helm/v3/internal/version.version=${helm} -X helm.sh/helm/v3/internal/version.gitTreeState=clean`,
    },
    {
      name: "kubeconform",
      moduleDir: TOOLS_MODULE,
      pkg: "github.com/yannh/kubeconform/cmd/kubeconform",
      version: kubeconform,
      ldflags: `-s -w -X main.version=${kubeconform}`,
    },
  ];
}

const toolHash = (tool: GoTool) =>
  createHash("sha256")
    .update(
      [safeRead(join(tool.moduleDir, "go.mod")), safeRead(join(tool.moduleDir, "go.sum")), tool.pkg, tool.ldflags].join(
        "\0",
      ),
    )
    .digest("hex")
    .slice(0, 16);

async function checkGo(go: string | undefined, moduleDir: string): Promise<string> {
  const needed = requiredGoVersion(moduleDir);
  const version = go ? (await run(go, ["env", "GOVERSION"])).stdout.trim().replace(/^go/, "") : undefined;
  if (!go || !version || !versionAtLeast(version, needed)) {
    throw new KubeToolchainError(`building the lab's Kubernetes tools needs Go >= ${needed}`, {
      context: { module: moduleDir, found: version ?? "no go on PATH or in /usr/local/go/bin" },
      hint: `install Go ${needed} or newer (e.g. from the Go module proxy's golang.org/toolchain), then run kube up again`,
    });
  }
  return go;
}

export interface BuiltTool {
  name: GoTool["name"];
  version: string;
  /** The cached binary (named by version and source hash). */
  binary: string;
  /** Seconds the build took; 0 when the binary for this source hash was already there. */
  seconds: number;
}

/** Builds (or finds) every tool; links each as <state>/kube/bin/<name> so one PATH entry reaches all four. */
export async function ensureKubeTools(stateDir: string, log: Log): Promise<BuiltTool[]> {
  const outDir = join(stateDir, "kube", "build");
  const binDir = join(stateDir, "kube", "bin");
  await mkdir(outDir, { recursive: true });
  await mkdir(binDir, { recursive: true });
  const go = findGo();
  const built: BuiltTool[] = [];
  for (const tool of kubeTools()) {
    const binary = join(outDir, `${tool.name}-${tool.version}-${toolHash(tool)}`);
    let seconds = 0;
    if (!existsSync(binary)) {
      const compiler = await checkGo(go, tool.moduleDir);
      seconds = await buildTool(compiler, tool, binary, stateDir, log);
    }
    const link = join(binDir, tool.name);
    const temporary = `${link}.lab-tmp`;
    await rm(temporary, { force: true });
    await symlink(binary, temporary);
    await rename(temporary, link);
    built.push({ name: tool.name, version: tool.version, binary, seconds });
  }
  const fresh = built.filter((b) => b.seconds > 0);
  if (fresh.length > 0) {
    // Kept for the README's numbers and for `kube status`: the cost of a cold build on this machine.
    const record = join(outDir, "build-times.json");
    const previous = existsSync(record) ? (JSON.parse(readFileSync(record, "utf8")) as Record<string, unknown>) : {};
    const times = Object.fromEntries(fresh.map((b) => [b.name, { version: b.version, seconds: b.seconds }]));
    await writeFile(record, `${JSON.stringify({ ...previous, ...times }, null, 2)}\n`);
  }
  return built;
}

async function buildTool(go: string, tool: GoTool, binary: string, stateDir: string, log: Log): Promise<number> {
  const logFile = join(dirname(binary), `${tool.name}.build.log`);
  log(`building ${tool.name} ${tool.version} from the Go module proxy (${tool.pkg}; log: ${logFile})`);
  const started = Date.now();
  const heartbeat = setInterval(
    () => log(`still building ${tool.name} (${Math.round((Date.now() - started) / 1000)}s)`),
    30_000,
  );
  try {
    const temporary = `${binary}.tmp`;
    const result = await run(go, ["build", "-trimpath", "-ldflags", tool.ldflags, "-o", temporary, tool.pkg], {
      cwd: tool.moduleDir,
      env: goEnvironment(stateDir),
      logFile,
    });
    if (result.code !== 0) {
      throw new CommandFailedError(`building ${tool.name} ${tool.version} failed (exit ${result.code})`, {
        context: { module: tool.moduleDir, package: tool.pkg, log: logFile },
        logTail: tail(safeRead(logFile)),
        hint: "check access to the Go module proxy (GOPROXY) and the free disk space of the lab state dir; then run kube up again",
      });
    }
    await rename(temporary, binary);
  } finally {
    clearInterval(heartbeat);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  log(`built ${tool.name} in ${seconds}s`);
  return seconds;
}

/** The Kubernetes OpenAPI document shipped in the k8s.io/kubernetes module (the build downloaded it). */
export function swaggerPath(stateDir: string): string {
  const version = pinnedVersion(APISERVER_MODULE, "k8s.io/kubernetes");
  return join(stateDir, "go", "mod", "k8s.io", `kubernetes@${version}`, "api", "openapi-spec", "swagger.json");
}
