// Lab configuration: where its state lives and which loopback endpoints it serves. Shared contract (see
// ARCHITECTURE.md): upstream 127.0.0.1:5101, private 127.0.0.1:5102, state dir ${E2E3D_LAB_HOME:-~/.local/state/e2e3d-lab}.
import { homedir } from "node:os";
import { join } from "node:path";
import { LabConfigError } from "./errors.js";

export const DEFAULT_UPSTREAM_REGISTRY = "127.0.0.1:5101";
export const DEFAULT_PRIVATE_REGISTRY = "127.0.0.1:5102";

/** The defaults other packages can rely on when no lab.json is needed. */
export const DEFAULT_ENDPOINTS = Object.freeze({
  upstream: DEFAULT_UPSTREAM_REGISTRY,
  private: DEFAULT_PRIVATE_REGISTRY,
});

/** The base image's repository path in the upstream: it stands in for docker.io/library/debian. */
export const BASE_REPOSITORY = "docker.io/library/debian";
export const BASE_SUITE = "bookworm";

/** Which Docker client to use: Debian's 20.10 client talks to the daemon's BuildKit; a 28.x client without buildx refuses. */
export const PREFERRED_DOCKER_CLIENT = "/usr/bin/docker";

export interface RegistryAddress {
  host: string;
  port: number;
}

export interface LabConfig {
  stateDir: string;
  upstream: RegistryAddress;
  private: RegistryAddress;
}

/** Parses "host:port" for a lab registry; the lab only serves on loopback, so other hosts are rejected. */
export function parseRegistryAddress(value: string, variable: string): RegistryAddress {
  const match = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : Number.NaN;
  if (!match || port < 1 || port > 65535) {
    throw new LabConfigError(
      `${variable}=${JSON.stringify(value)} is not a loopback registry address the lab can serve`,
      {
        context: { variable, value },
        hint: `use host:port on loopback, e.g. ${variable}=127.0.0.1:6101 (the lab never binds anything but loopback; for real registries, do not run the lab)`,
      },
    );
  }
  return { host: match[1]!, port };
}

export const formatAddress = (address: RegistryAddress): string => `${address.host}:${address.port}`;

export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env["E2E3D_LAB_HOME"]?.trim();
  return home ? home : join(env["HOME"] ?? homedir(), ".local", "state", "e2e3d-lab");
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): LabConfig {
  const upstreamVar = "E2E3D_UPSTREAM_REGISTRY";
  const privateVar = "E2E3D_PRIVATE_REGISTRY";
  const upstream = parseRegistryAddress(env[upstreamVar] || DEFAULT_UPSTREAM_REGISTRY, upstreamVar);
  const priv = parseRegistryAddress(env[privateVar] || DEFAULT_PRIVATE_REGISTRY, privateVar);
  if (upstream.port === priv.port && upstream.host === priv.host) {
    throw new LabConfigError("the upstream and private registries must not share an address", {
      context: { [upstreamVar]: formatAddress(upstream), [privateVar]: formatAddress(priv) },
      hint: `give them different ports (defaults ${DEFAULT_UPSTREAM_REGISTRY} and ${DEFAULT_PRIVATE_REGISTRY})`,
    });
  }
  return { stateDir: labStateDir(env), upstream, private: priv };
}
