// Deployment secrets: generated on first deploy (strong random values), stored with owner-only permissions in the
// deploy state dir (never in git), reused on every later deploy. Compose reads them from that env file and
// interpolates them into the services' environment; the compose file itself holds only `${...}` references.
import { randomBytes, randomInt } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { SecretsError } from "./errors.js";
import type { SecretName } from "./model/types.js";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomString(length: number, alphabet = ALNUM): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}

interface SecretKind {
  generate: () => string;
  /** Why this shape: the consumer's format rules. */
  why: string;
}

/** Every secret the stack uses, with how to generate it. Alphanumeric values need no escaping in URLs or env files. */
export const SECRET_KINDS: Record<SecretName, SecretKind> = {
  postgres_password: { generate: () => randomString(40), why: "goes into SQLAlchemy URLs: alphanumeric, no escaping" },
  redis_password: { generate: () => randomString(40), why: "goes into the Celery broker URL: alphanumeric" },
  objectstore_access_key: { generate: () => `E2E3D${randomString(15).toUpperCase()}`, why: "S3 access keys: 20 chars" },
  objectstore_secret_key: { generate: () => randomString(40), why: "S3 secret keys: at most 40 chars" },
  // Fernet wants 32 random bytes, url-safe base64 with padding (what cryptography's Fernet.generate_key() returns).
  airflow_fernet_key: {
    generate: () => randomBytes(32).toString("base64").replace(/\+/g, "-").replace(/\//g, "_"),
    why: "Fernet: url-safe base64 of 32 bytes",
  },
  airflow_jwt_secret: { generate: () => randomString(64), why: "HMAC key for the API's JWTs" },
  airflow_api_secret_key: { generate: () => randomString(64), why: "session signing key" },
  airflow_admin_password: { generate: () => randomString(32), why: "the Airflow admin login" },
  grafana_admin_password: { generate: () => randomString(32), why: "the Grafana admin login" },
};

export const SECRET_NAMES = Object.keys(SECRET_KINDS) as SecretName[];

/** The environment variable compose reads a secret from. */
export const secretVariable = (name: SecretName): string => `E2E3D_SECRET_${name.toUpperCase()}`;

/**
 * A reference to a secret inside an environment value of the model. Compose refuses to start when it is missing
 * (`:?`), so a secret can never silently become an empty string.
 */
export const secretRef = (name: SecretName): string =>
  `\${${secretVariable(name)}:?secret ${name} is missing: run deploy, which generates it}`;

/** Values that must never be a credential: the seed report's and every well-known default. */
export const DEFAULT_CREDENTIALS = [
  "minioadmin",
  "temporary_key",
  "admin",
  "password",
  "changeme",
  "secret",
  "airflow",
  "postgres",
  "redis",
  "grafana",
  "prom-operator",
  "root",
];

export type Secrets = Record<SecretName, string>;

function isWeak(value: string): boolean {
  return value.length < 16 || DEFAULT_CREDENTIALS.includes(value.toLowerCase());
}

function parseEnvFile(text: string, path: string): Map<string, string> {
  const values = new Map<string, string>();
  text.split("\n").forEach((line, index) => {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith("#")) return;
    const eq = trimmed.indexOf("=");
    if (eq <= 0) {
      throw new SecretsError(`malformed line ${index + 1} in the secrets file`, {
        context: { file: path, line: index + 1 },
        hint: "each line must be NAME=value; delete the file to regenerate every secret (services keep their data volumes, but postgres will then refuse the new password)",
      });
    }
    values.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  });
  return values;
}

export interface SecretsStatus {
  path: string;
  exists: boolean;
  /** Secrets the file lacks (they would be generated). */
  missing: SecretName[];
  problems: string[];
}

/** Checks the secrets file without changing anything (preflight). */
export function inspectSecrets(path: string): SecretsStatus {
  const status: SecretsStatus = { path, exists: existsSync(path), missing: [], problems: [] };
  if (!status.exists) {
    status.missing = [...SECRET_NAMES];
    // Creatable when the nearest existing ancestor is a writable directory.
    let dir = dirname(path);
    while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
    try {
      if (!statSync(dir).isDirectory()) status.problems.push(`${dir} is not a directory`);
    } catch (err) {
      status.problems.push(`cannot inspect ${dir}: ${(err as Error).message}`);
    }
    return status;
  }
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) status.problems.push(`permissions are ${mode.toString(8)}; must be 600 (owner only)`);
  try {
    const values = parseEnvFile(readFileSync(path, "utf8"), path);
    for (const name of SECRET_NAMES) {
      const value = values.get(secretVariable(name));
      if (value === undefined) status.missing.push(name);
      else if (isWeak(value))
        status.problems.push(`${name} is weak or a well-known default; delete its line to regenerate`);
    }
  } catch (err) {
    status.problems.push((err as Error).message);
  }
  return status;
}

/** Reads an existing deployment's secrets without generating or changing anything (a client of the stack). */
export function readSecrets(path: string): Secrets {
  const status = inspectSecrets(path);
  const problems = [
    ...status.problems,
    ...(status.exists && status.missing.length ? [`it lacks ${status.missing.join(", ")}`] : []),
  ];
  if (!status.exists || problems.length > 0) {
    throw new SecretsError(
      status.exists ? `the deployment's secrets file cannot be used: ${problems.join("; ")}` : "no secrets file",
      {
        context: { file: path },
        hint: status.exists
          ? "deploy again (npx tsx pipelines/deploy.ts), which repairs it"
          : "deploy the stack first (npx tsx pipelines/deploy.ts), or point --state-dir/--project at its deployment",
      },
    );
  }
  const values = parseEnvFile(readFileSync(path, "utf8"), path);
  return Object.fromEntries(SECRET_NAMES.map((name) => [name, values.get(secretVariable(name))!])) as Secrets;
}

/** Loads the secrets, generating (and persisting, mode 600) any that are missing. Never logs a value. */
export function ensureSecrets(path: string): { secrets: Secrets; generated: SecretName[] } {
  const status = inspectSecrets(path);
  if (status.problems.length > 0) {
    throw new SecretsError(`the secrets file cannot be used: ${status.problems.join("; ")}`, {
      context: { file: path },
      hint: `fix with chmod 600 ${path}, or remove the offending lines so they are regenerated`,
    });
  }
  const existing = status.exists ? parseEnvFile(readFileSync(path, "utf8"), path) : new Map<string, string>();
  const secrets = {} as Secrets;
  for (const name of SECRET_NAMES) {
    secrets[name] = existing.get(secretVariable(name)) ?? SECRET_KINDS[name].generate();
  }
  if (status.missing.length > 0) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const body = [
      "# E2E3D deployment secrets: generated by deploy, owner-only, never commit. Delete a line to regenerate it.",
      ...SECRET_NAMES.map((name) => `${secretVariable(name)}=${secrets[name]}`),
      "",
    ].join("\n");
    // Write then rename, so a crash never leaves a half-written file; the temp file is created owner-only.
    const temp = `${path}.tmp-${process.pid}`;
    writeFileSync(temp, body, { mode: 0o600 });
    chmodSync(temp, 0o600);
    renameSync(temp, path);
  }
  return { secrets, generated: status.missing };
}
