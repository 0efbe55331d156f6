// Registry authentication: anonymous, basic, and the bearer-token challenge flow (WWW-Authenticate), with tokens
// scoped per repository and cached until they expire. Credentials come from Docker's config.json (`auths`,
// `credHelpers`, `credsStore`), from E2E3D_REGISTRY_CREDENTIALS, or from the caller. Secrets are never logged:
// Credential objects redact themselves when printed and errors carry only the registry and status.
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { AuthError } from "./errors.js";
import { DOCKER_HUB } from "./reference.js";
import { header, type Transport } from "./transport.js";

export class Credential {
  constructor(
    readonly username: string | undefined,
    private readonly secret: string | undefined,
    /** An identity (refresh) token from `docker login` with an OAuth-capable registry. */
    private readonly identityToken?: string,
  ) {}
  get password(): string | undefined {
    return this.secret;
  }
  get refreshToken(): string | undefined {
    return this.identityToken;
  }
  basic(): string | undefined {
    if (this.username === undefined || this.secret === undefined) return undefined;
    return `Basic ${Buffer.from(`${this.username}:${this.secret}`).toString("base64")}`;
  }
  toString(): string {
    return `Credential(${this.username ?? "<token>"}:***)`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

export type CredentialProvider = (registry: string) => Promise<Credential | undefined>;

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The keys Docker may have stored a registry's credentials under. */
function configKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) {
    return [
      "https://index.docker.io/v1/",
      "index.docker.io",
      "docker.io",
      "registry-1.docker.io",
      "https://registry-1.docker.io",
    ];
  }
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin, as Docker does. */
function runCredentialHelper(helper: string, server: string): Promise<Credential | undefined> {
  return new Promise((resolve, reject) => {
    const child = execFile(`docker-credential-${helper}`, ["get"], { timeout: 30_000 }, (error, stdout) => {
      if (error) {
        // Helpers exit non-zero with "credentials not found" when they have nothing: that is anonymous, not a failure.
        if (/not found/i.test(stdout) || /not found/i.test(String(error.message))) return resolve(undefined);
        return reject(
          new AuthError(`credential helper docker-credential-${helper} failed for ${server}`, {
            registry: server,
            operation: "read credentials",
            hint: `check that docker-credential-${helper} is installed and logged in`,
          }),
        );
      }
      try {
        const parsed = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (parsed.Username === "<token>") return resolve(new Credential(undefined, undefined, parsed.Secret));
        resolve(new Credential(parsed.Username, parsed.Secret));
      } catch {
        reject(
          new AuthError(`credential helper docker-credential-${helper} printed something that is not JSON`, {
            registry: server,
          }),
        );
      }
    });
    child.stdin?.end(server);
  });
}

/** Credentials from Docker's config.json ($DOCKER_CONFIG/config.json or ~/.docker/config.json). */
export function dockerConfigCredentials(env: NodeJS.ProcessEnv = process.env, configPath?: string): CredentialProvider {
  const path = configPath ?? join(env["DOCKER_CONFIG"] ?? join(env["HOME"] ?? homedir(), ".docker"), "config.json");
  let config: Promise<DockerConfig | undefined> | undefined;
  const load = () => {
    config ??= readFile(path, "utf8").then(
      (text) => JSON.parse(text) as DockerConfig,
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return undefined;
        throw new AuthError(`cannot read Docker config ${path}: ${err.message}`, { context: { file: path } });
      },
    );
    return config;
  };
  return async (registry) => {
    const cfg = await load();
    if (!cfg) return undefined;
    const keys = configKeys(registry);
    const helper = keys.map((k) => cfg.credHelpers?.[k]).find((h) => h !== undefined);
    if (helper) return runCredentialHelper(helper, registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry);
    for (const key of keys) {
      const entry = cfg.auths?.[key];
      if (!entry) continue;
      if (entry.identitytoken) return new Credential(undefined, undefined, entry.identitytoken);
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon > 0) return new Credential(decoded.slice(0, colon), decoded.slice(colon + 1));
      }
      if (entry.username && entry.password) return new Credential(entry.username, entry.password);
    }
    if (cfg.credsStore)
      return runCredentialHelper(cfg.credsStore, registry === DOCKER_HUB ? "https://index.docker.io/v1/" : registry);
    return undefined;
  };
}

/** E2E3D_REGISTRY_CREDENTIALS='{"registry.example.com":{"username":"u","password":"p"}}' (CI secrets). */
export function envCredentials(env: NodeJS.ProcessEnv = process.env): CredentialProvider {
  const text = env["E2E3D_REGISTRY_CREDENTIALS"];
  let map: Record<string, { username?: string; password?: string }> = {};
  if (text) {
    try {
      map = JSON.parse(text) as typeof map;
    } catch {
      // Do not echo the value: it holds secrets.
      throw new AuthError("E2E3D_REGISTRY_CREDENTIALS is not valid JSON", {
        hint: 'set it to {"<registry host>": {"username": "...", "password": "..."}}',
      });
    }
  }
  return async (registry) => {
    const entry = map[registry];
    return entry ? new Credential(entry.username, entry.password) : undefined;
  };
}

export function chainCredentials(...providers: CredentialProvider[]): CredentialProvider {
  return async (registry) => {
    for (const provider of providers) {
      const found = await provider(registry);
      if (found) return found;
    }
    return undefined;
  };
}

export function staticCredentials(map: Record<string, { username: string; password: string }>): CredentialProvider {
  return async (registry) => {
    const entry = map[registry];
    return entry ? new Credential(entry.username, entry.password) : undefined;
  };
}

export const defaultCredentials = (env: NodeJS.ProcessEnv = process.env): CredentialProvider =>
  chainCredentials(envCredentials(env), dockerConfigCredentials(env));

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (RFC 7235 auth-params). */
export function parseChallenge(value: string): Challenge | undefined {
  const match = /^\s*([A-Za-z][\w-]*)\s*(.*)$/.exec(value);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const m of match[2]!.matchAll(/([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : (m[3] ?? "");
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

export const pullScope = (repository: string) => `repository:${repository}:pull`;
export const pushScope = (repository: string) => `repository:${repository}:pull,push`;

interface CachedToken {
  value: string;
  expiresAt: number;
}

/** Holds what each registry demanded and the tokens we got, so that only the first request per scope sees a 401. */
export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();
  private readonly credentials = new Map<string, Promise<Credential | undefined>>();

  constructor(
    private readonly transport: Transport,
    private readonly provider: CredentialProvider,
  ) {}

  private credentialFor(registry: string): Promise<Credential | undefined> {
    let found = this.credentials.get(registry);
    if (!found) {
      found = this.provider(registry);
      this.credentials.set(registry, found);
    }
    return found;
  }

  /** The Authorization header to send, from what the registry demanded before; undefined for anonymous. */
  async authorization(registry: string, scopes: readonly string[]): Promise<string | undefined> {
    const challenge = this.challenges.get(registry);
    if (!challenge) return undefined;
    if (challenge.scheme === "basic") {
      const credential = await this.credentialFor(registry);
      const basic = credential?.basic();
      if (!basic) {
        throw new AuthError(`registry ${registry} demands basic authentication and no credentials were found`, {
          registry,
          operation: "authenticate",
          hint: "run `docker login` for it, or set E2E3D_REGISTRY_CREDENTIALS",
        });
      }
      return basic;
    }
    if (challenge.scheme === "bearer") return `Bearer ${await this.token(registry, challenge, scopes)}`;
    throw new AuthError(`registry ${registry} demands the unsupported authentication scheme ${challenge.scheme}`, {
      registry,
      operation: "authenticate",
    });
  }

  /** Records a 401's challenge; returns false when it adds nothing new (so the caller stops retrying). */
  learn(registry: string, wwwAuthenticate: string | undefined, scopes: readonly string[]): boolean {
    const challenge = wwwAuthenticate ? parseChallenge(wwwAuthenticate) : undefined;
    if (!challenge) return false;
    const previous = this.challenges.get(registry);
    this.challenges.set(registry, challenge);
    const key = `${registry} ${[...scopes].sort().join(" ")}`;
    const hadToken = this.tokens.delete(key);
    return !previous || previous.scheme !== challenge.scheme || hadToken;
  }

  /** Concurrent requests for one scope share one token request. */
  private async token(registry: string, challenge: Challenge, scopes: readonly string[]): Promise<string> {
    const key = `${registry} ${[...scopes].sort().join(" ")}`;
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.value;
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.fetchToken(registry, challenge, scopes, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(
    registry: string,
    challenge: Challenge,
    scopes: readonly string[],
    key: string,
  ): Promise<string> {
    const realm = challenge.params["realm"];
    if (!realm) throw new AuthError(`registry ${registry} sent a bearer challenge without a realm`, { registry });
    const url = new URL(realm);
    if (challenge.params["service"]) url.searchParams.set("service", challenge.params["service"]);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    const credential = await this.credentialFor(registry);
    const realmRegistry = url.host;
    let response: Awaited<ReturnType<Transport["request"]>>;
    if (credential?.refreshToken) {
      // OAuth2 refresh-token grant (docker login with an identity token).
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: credential.refreshToken,
        service: challenge.params["service"] ?? "",
        client_id: "e2e3d-oci",
        scope: scopes.join(" "),
      });
      response = await this.transport.request({
        registry: realmRegistry,
        method: "POST",
        url: url.origin + url.pathname,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: Buffer.from(form.toString()),
        kind: "token",
        operation: "fetch bearer token",
      });
    } else {
      const basic = credential?.basic();
      response = await this.transport.request({
        registry: realmRegistry,
        method: "GET",
        url: url.toString(),
        headers: basic ? { authorization: basic } : {},
        kind: "token",
        operation: "fetch bearer token",
      });
    }
    if (response.statusCode !== 200) {
      await response.body.dump();
      throw new AuthError(`token service for ${registry} refused (${credential ? "with" : "without"} credentials)`, {
        registry,
        status: response.statusCode,
        operation: "fetch bearer token",
        context: { realm: url.origin + url.pathname, scope: scopes.join(" ") },
        hint: credential
          ? "check the stored credentials (docker login)"
          : "log in (docker login) or set E2E3D_REGISTRY_CREDENTIALS",
      });
    }
    const body = (await response.body.json()) as { token?: string; access_token?: string; expires_in?: number };
    const value = body.token ?? body.access_token;
    if (!value)
      throw new AuthError(`token service for ${registry} answered without a token`, {
        registry,
        operation: "fetch bearer token",
      });
    // Expire a little early so a token never dies mid-request; 60 s is the spec's default lifetime.
    const lifetime = Math.max(10, (body.expires_in ?? 60) - 10) * 1000;
    this.tokens.set(key, { value, expiresAt: Date.now() + lifetime });
    return value;
  }

  /** The challenge header of a response, for callers. */
  static challengeOf(headers: Parameters<typeof header>[0]): string | undefined {
    return header(headers, "www-authenticate");
  }
}
