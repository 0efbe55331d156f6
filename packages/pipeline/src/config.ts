// Typed configuration for the pipelines: command-line overrides, then environment, then the lab's lab.json when the
// lab is up, then defaults. Registry credentials are not configuration here: they come from the same place
// @e2e3d/oci reads them (E2E3D_REGISTRY_CREDENTIALS or the Docker config), see credentialsFor(). Read once at the boundary; everything downstream gets plain typed values.
import { type Dirent, existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";

export const ENGINE_CHOICES = ["auto", "dagger", "docker"] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

export const DEFAULT_PRIVATE_REGISTRY = "127.0.0.1:5102";
export const DEFAULT_UPSTREAM_REGISTRY = "127.0.0.1:5101";
/** Debian's 20.10 client uses the daemon's BuildKit; a 28.x client without buildx (often first on PATH) refuses. */
export const DEFAULT_DOCKER_CLIENT = "/usr/bin/docker";

/** The part of the lab's lab.json the pipelines read (the lab owns the full schema in tools/lab/src/state.ts). */
const LabFile = z.object({
  upstream: z.string(),
  private: z.string(),
  engine: z.object({ dockerClient: z.string() }).partial().optional(),
});

export interface LabInfo {
  file: string;
  stateDir: string;
  upstream: string;
  private: string;
  dockerClient: string | undefined;
}

export interface PipelineConfig {
  repoRoot: string;
  engine: EngineChoice;
  privateRegistry: string;
  upstreamRegistry: string;
  dockerClient: string;
  lab: LabInfo | undefined;
  /** Build secrets offered to every build (id → file): see buildSecretsFrom(). */
  buildSecrets: Record<string, string>;
  /** The lock the bases come from: --lock, else the lab's machine-local lock when the lab is up, else docker/images.lock.json. */
  lockFile: string;
}

export interface ConfigOverrides {
  engine?: string | undefined;
  to?: string | undefined;
  lock?: string | undefined;
  repoRoot?: string | undefined;
}

const REGISTRY = /^[a-zA-Z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/;

function registryAddress(value: string, source: string): string {
  const trimmed = value.trim().replace(/\/+$/, "");
  if (!REGISTRY.test(trimmed)) {
    throw new ConfigError(`${source}=${JSON.stringify(value)} is not a registry address`, {
      context: { source },
      hint: "give host[:port] without a scheme or path, e.g. 127.0.0.1:5102 or registry.example.com",
    });
  }
  return trimmed;
}

export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env["E2E3D_LAB_HOME"]?.trim();
  return home ? home : join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-lab");
}

/** lab.json when the lab has been brought up; undefined when the file does not exist; an error when it is unreadable. */
export function readLabInfo(env: NodeJS.ProcessEnv = process.env): LabInfo | undefined {
  const stateDir = labStateDir(env);
  const file = join(stateDir, "lab.json");
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`${file} is not valid JSON`, {
      context: { file },
      hint: "bring the lab up again: npx tsx tools/lab/src/cli.ts up",
      cause: error,
    });
  }
  const parsed = LabFile.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      `${file} lacks the registry endpoints: ${parsed.error.issues.map((i) => i.path.join(".")).join(", ")}`,
      {
        context: { file },
        hint: "bring the lab up again: npx tsx tools/lab/src/cli.ts up",
      },
    );
  }
  return {
    file,
    stateDir,
    upstream: parsed.data.upstream,
    private: parsed.data.private,
    dockerClient: parsed.data.engine?.dockerClient,
  };
}

/** Where the host's CA bundle may be named, most specific first; Debian's system bundle last. */
const CA_BUNDLE_SOURCES = ["E2E3D_CA_BUNDLE", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT"] as const;
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/**
 * The build secrets every build is offered. `ca_bundle`: the CA bundle this machine trusts, so a RUN step that
 * downloads (pip) works behind a TLS-inspecting proxy; Dockerfiles opt in with `--mount=type=secret,id=ca_bundle`
 * and it never enters the image or the cache key. E2E3D_CA_BUNDLE= (empty) turns it off.
 */
export function buildSecretsFrom(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (env["E2E3D_CA_BUNDLE"] === "") return {};
  const candidates = [...CA_BUNDLE_SOURCES.map((name) => env[name]), SYSTEM_CA_BUNDLE];
  const bundle = candidates.find((file): file is string => Boolean(file) && existsSync(file!));
  return bundle ? { ca_bundle: bundle } : {};
}

/** Where Debian and Ubuntu keep the CAs a machine adds to the public set (update-ca-certificates reads them). */
export const LOCAL_CA_DIR = "/usr/local/share/ca-certificates";

/**
 * The CA certificates this machine added beyond the public set (a TLS-inspecting proxy's CA), as one PEM text, or
 * undefined when there are none. What a build behind such a proxy needs from `ca_bundle`, when the whole bundle
 * cannot be passed (Dagger's setSecret limit).
 */
export function localCaCertificates(dir = LOCAL_CA_DIR): { text: string; files: string[] } | undefined {
  if (!existsSync(dir)) return undefined;
  const certificates = (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
    .filter((entry) => entry.isFile() && entry.name.endsWith(".crt"))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort()
    .map((file) => ({ file, pem: readFileSync(file, "utf8").trim() }))
    .filter(({ pem }) => pem.includes("-----BEGIN CERTIFICATE-----"));
  if (certificates.length === 0) return undefined;
  return { text: `${certificates.map((c) => c.pem).join("\n")}\n`, files: certificates.map((c) => c.file) };
}

export function parseEngineChoice(value: string | undefined, source: string): EngineChoice {
  const choice = (value ?? "auto").trim().toLowerCase();
  if (!(ENGINE_CHOICES as readonly string[]).includes(choice)) {
    throw new ConfigError(`${source}=${JSON.stringify(value)} is not an engine`, {
      context: { source },
      hint: `use one of ${ENGINE_CHOICES.join(", ")}`,
    });
  }
  return choice as EngineChoice;
}

export function loadPipelineConfig(
  overrides: ConfigOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): PipelineConfig {
  const lab = readLabInfo(env);
  const repoRoot = resolve(overrides.repoRoot ?? process.cwd());
  const engine = overrides.engine
    ? parseEngineChoice(overrides.engine, "--engine")
    : parseEngineChoice(env["E2E3D_ENGINE"], "E2E3D_ENGINE");
  const privateRegistry = overrides.to
    ? registryAddress(overrides.to, "--to")
    : env["E2E3D_PRIVATE_REGISTRY"]
      ? registryAddress(env["E2E3D_PRIVATE_REGISTRY"], "E2E3D_PRIVATE_REGISTRY")
      : (lab?.private ?? DEFAULT_PRIVATE_REGISTRY);
  const upstreamRegistry = env["E2E3D_UPSTREAM_REGISTRY"]
    ? registryAddress(env["E2E3D_UPSTREAM_REGISTRY"], "E2E3D_UPSTREAM_REGISTRY")
    : (lab?.upstream ?? DEFAULT_UPSTREAM_REGISTRY);
  const lockFile = overrides.lock
    ? resolve(overrides.lock)
    : lab
      ? join(lab.stateDir, "images.lock.json")
      : join(repoRoot, "docker", "images.lock.json");
  return {
    buildSecrets: buildSecretsFrom(env),
    repoRoot,
    engine,
    privateRegistry,
    upstreamRegistry,
    dockerClient: env["E2E3D_DOCKER_CLIENT"] || lab?.dockerClient || DEFAULT_DOCKER_CLIENT,
    lab,
    lockFile,
  };
}
