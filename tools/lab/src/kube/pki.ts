// The lab API server's keys and certificates, made once with openssl (Node's crypto makes keys but not X.509
// certificates) and reused: a CA, the API server's serving certificate for 127.0.0.1, an admin client certificate
// (group system:masters, so RBAC lets the tests do anything) and the service-account signing key pair.
// Everything is owner-only in <state>/kube/pki; nothing leaves the machine.
import { existsSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { runChecked } from "../exec.js";

export interface KubePki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export const pkiPaths = (kubeDir: string): KubePki => {
  const dir = join(kubeDir, "pki");
  return {
    dir,
    caCert: join(dir, "ca.crt"),
    caKey: join(dir, "ca.key"),
    serverCert: join(dir, "apiserver.crt"),
    serverKey: join(dir, "apiserver.key"),
    adminCert: join(dir, "admin.crt"),
    adminKey: join(dir, "admin.key"),
    serviceAccountKey: join(dir, "sa.key"),
    serviceAccountPub: join(dir, "sa.pub"),
  };
};

/** The names the serving certificate answers for: loopback, and the in-cluster names pods would use. */
export const SERVER_NAMES = [
  "IP:127.0.0.1",
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

const openssl = (args: string[], what: string) =>
  runChecked("openssl", args, { what: `openssl: ${what}`, hint: "install Debian's openssl package" });

/** P-256 keys: fast to make, accepted by Go's TLS stack on both ends. */
const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function signed(pki: KubePki, name: string, subject: string, extensions: string, key: string, cert: string) {
  const csr = join(pki.dir, `${name}.csr`);
  const ext = join(pki.dir, `${name}.ext`);
  await openssl(["req", ...ecKey, "-keyout", key, "-out", csr, "-subj", subject], `${name} key`);
  await writeFile(ext, extensions);
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      pki.caCert,
      "-CAkey",
      pki.caKey,
      "-CAcreateserial",
      "-days",
      "3650",
      "-out",
      cert,
      "-extfile",
      ext,
    ],
    `${name} certificate`,
  );
}

/** Makes whatever is missing; returns whether anything was made. A complete set is left alone. */
export async function ensurePki(kubeDir: string): Promise<{ pki: KubePki; created: boolean }> {
  const pki = pkiPaths(kubeDir);
  await mkdir(pki.dir, { recursive: true, mode: 0o700 });
  await chmod(pki.dir, 0o700);
  const all = [
    pki.caCert,
    pki.caKey,
    pki.serverCert,
    pki.serverKey,
    pki.adminCert,
    pki.adminKey,
    pki.serviceAccountKey,
    pki.serviceAccountPub,
  ];
  if (all.every((path) => existsSync(path))) return { pki, created: false };
  // A partial set (an interrupted run) is remade whole: certificates must all come from the CA on disk.
  await openssl(
    [
      "req",
      "-x509",
      ...ecKey,
      "-keyout",
      pki.caKey,
      "-out",
      pki.caCert,
      "-days",
      "3650",
      "-subj",
      "/CN=e2e3d-lab-kube-ca",
    ],
    "CA",
  );
  await signed(
    pki,
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=${SERVER_NAMES.join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n`,
    pki.serverKey,
    pki.serverCert,
  );
  await signed(
    pki,
    "admin",
    "/O=system:masters/CN=e2e3d-lab-admin",
    "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    pki.adminKey,
    pki.adminCert,
  );
  await openssl(
    ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pki.serviceAccountKey],
    "service-account key",
  );
  await openssl(
    ["pkey", "-in", pki.serviceAccountKey, "-pubout", "-out", pki.serviceAccountPub],
    "service-account key",
  );
  for (const key of [pki.caKey, pki.serverKey, pki.adminKey, pki.serviceAccountKey]) await chmod(key, 0o600);
  return { pki, created: true };
}
