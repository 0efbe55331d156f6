// A bearer-token service for a real registry configured with `auth: token` (distribution's token auth spec):
// checks Basic credentials, grants the requested scopes to known users (pull-only for anonymous on public/*), and
// signs RS256 JWTs with a throw-away certificate made by openssl that the registry trusts (rootcertbundle).
// It stands in for auth.docker.io-style services, which cannot be reached from here.
import { execFileSync } from "node:child_process";
import { createPrivateKey, createSign, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TokenServer {
  realm: string;
  service: string;
  /** YAML `auth:` section for startRegistry's extraConfig. */
  registryConfig: string;
  /** Number of token requests seen, and whether each carried credentials. */
  requests: { scopes: string[]; user: string | undefined }[];
  stop(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export async function startTokenServer(users: Record<string, string>): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), "e2e3d-oci-token-"));
  const keyPath = join(dir, "key.pem");
  const certPath = join(dir, "cert.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-subj",
      "/CN=e2e3d-test-token",
      "-days",
      "1",
    ],
    {
      stdio: "ignore",
    },
  );
  const key = createPrivateKey(await readFile(keyPath));
  const certPem = await readFile(certPath, "utf8");
  const certDer = Buffer.from(certPem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const service = "e2e3d-test-registry";
  const issuer = "e2e3d-test-issuer";
  const requests: TokenServer["requests"] = [];

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const scopes = url.searchParams.getAll("scope");
    let user: string | undefined;
    const authorization = req.headers.authorization;
    if (authorization?.startsWith("Basic ")) {
      const [name, password] = Buffer.from(authorization.slice(6), "base64").toString().split(":");
      if (!name || users[name] !== password) {
        res.writeHead(401, { "content-type": "application/json" });
        res.end('{"details":"bad credentials"}');
        return;
      }
      user = name;
    }
    requests.push({ scopes, user });
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(":");
      if (type !== "repository" || !name || !actions) return [];
      const wanted = actions.split(",");
      const granted = user ? wanted : name.startsWith("public/") ? wanted.filter((a) => a === "pull") : [];
      return granted.length ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: "RS256", typ: "JWT", x5c: [certDer.toString("base64")] };
    const claims = {
      iss: issuer,
      sub: user ?? "",
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomBytes(8).toString("hex"),
      access,
    };
    const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature = createSign("RSA-SHA256").update(signingInput).sign(key);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token: `${signingInput}.${b64url(signature)}`, expires_in: 300 }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
  return {
    realm,
    service,
    requests,
    registryConfig: [
      "auth:",
      "  token:",
      `    realm: ${realm}`,
      `    service: ${service}`,
      `    issuer: ${issuer}`,
      `    rootcertbundle: ${certPath}`,
    ].join("\n"),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
