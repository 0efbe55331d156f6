// Client configuration from the environment, shared by the pipelines and by callers such as deploy's preflight:
//   E2E3D_INSECURE_REGISTRIES  comma-separated registries to reach over plain HTTP (loopback is plain by default)
//   E2E3D_TLS_REGISTRIES       comma-separated loopback registries that serve TLS
//   E2E3D_REGISTRY_REMAP       comma-separated from=to upstream remapping rules (see remap.ts)
//   E2E3D_REGISTRY_CREDENTIALS JSON {"host": {"username", "password"}}; Docker's config.json is read too
import { defaultCredentials } from "./auth.js";
import { RegistryClient, type RegistryClientOptions } from "./client.js";

const list = (value: string | undefined): string[] =>
  (value ?? "")
    .split(",")
    .map((v) => v.trim())
    .filter((v) => v !== "");

export function clientFromEnv(
  env: NodeJS.ProcessEnv = process.env,
  options: RegistryClientOptions = {},
): RegistryClient {
  return new RegistryClient({
    insecureRegistries: list(env["E2E3D_INSECURE_REGISTRIES"]),
    tlsRegistries: list(env["E2E3D_TLS_REGISTRIES"]),
    credentials: defaultCredentials(env),
    ...options,
  });
}

/** Human-readable byte counts for progress lines. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
