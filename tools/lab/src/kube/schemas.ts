// JSON schemas for kubeconform, made from the Kubernetes OpenAPI document in the k8s.io/kubernetes module the lab
// builds from (api/openapi-spec/swagger.json: the same document kubeconform's published schemas are converted from).
// kubeconform's default schema location is on GitHub, which these machines cannot reach, so the lab writes them in
// kubeconform's own layout (`{kind}-{group}-{version}.json`, its `-schema-location` template) for the exact version the
// lab's API server runs. The conversion is what openapi2jsonschema's `--kubernetes --strict` does: one file per kind
// that refers into a shared `_definitions.json`, unknown fields refused, int-or-string and quantities widened.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { LabError } from "../errors.js";

const Swagger = z.object({
  definitions: z.record(z.string(), z.record(z.string(), z.unknown())),
});
const Gvk = z.array(z.object({ group: z.string(), version: z.string(), kind: z.string() }));

type Json = unknown;

/** kubeconform's file name for a kind: lowercase kind, the group's first label (none for core), the version. */
export function schemaFileName(gvk: { group: string; version: string; kind: string }): string {
  const group = gvk.group ? `-${gvk.group.split(".")[0]!.toLowerCase()}` : "";
  return `${gvk.kind.toLowerCase()}${group}-${gvk.version.toLowerCase()}.json`;
}

/** The template kubeconform's -schema-location takes for a directory written here. */
export const schemaLocation = (dir: string): string => `${dir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;

const INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/** Strict: an object with declared properties refuses others (what kubectl's client validation did). */
function transform(node: Json): Json {
  if (Array.isArray(node)) return node.map(transform);
  if (!node || typeof node !== "object") return node;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) out[key] = transform(value);
  if (out["format"] === "int-or-string") {
    delete out["format"];
    delete out["type"];
    out["oneOf"] = [{ type: "string" }, { type: "integer" }];
  }
  if ("properties" in out && !("additionalProperties" in out)) out["additionalProperties"] = false;
  return out;
}

export interface SchemaSet {
  dir: string;
  kubernetesVersion: string;
  kinds: number;
}

/**
 * Converts once per Kubernetes version (the module's, e.g. v1.34.4: the document itself says "unversioned"); a directory
 * with its marker file is reused as is.
 */
export async function ensureSchemas(
  swaggerFile: string,
  outRoot: string,
  version: string,
): Promise<{ set: SchemaSet; created: boolean }> {
  if (!existsSync(swaggerFile)) {
    throw new LabError("the Kubernetes OpenAPI document is not in the Go module cache", {
      context: { file: swaggerFile },
      hint: "run kube up again: it downloads k8s.io/kubernetes through the Go module proxy",
    });
  }
  const parsed = Swagger.safeParse(JSON.parse(readFileSync(swaggerFile, "utf8")));
  if (!parsed.success) {
    throw new LabError("the Kubernetes OpenAPI document has an unexpected shape", {
      context: { file: swaggerFile, problem: parsed.error.issues[0]?.message },
    });
  }
  const dir = join(outRoot, `${version}-strict`);
  const marker = join(dir, ".complete.json");
  if (existsSync(marker)) {
    const set = JSON.parse(readFileSync(marker, "utf8")) as SchemaSet;
    return { set, created: false };
  }
  const temporary = `${dir}.tmp-${process.pid}`;
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary, { recursive: true });
  const definitions: Record<string, Json> = {};
  for (const [name, schema] of Object.entries(parsed.data.definitions)) definitions[name] = transform(schema);
  // Quantities are strings in the document, but YAML writes `cpu: 2` as a number and the API server accepts it.
  definitions[QUANTITY] = { ...(definitions[QUANTITY] as object), oneOf: [{ type: "string" }, { type: "number" }] };
  delete (definitions[QUANTITY] as Record<string, Json>)["type"];
  definitions[INT_OR_STRING] = { oneOf: [{ type: "string" }, { type: "integer" }] };
  await writeFile(join(temporary, "_definitions.json"), JSON.stringify({ definitions }));
  let kinds = 0;
  for (const [name, schema] of Object.entries(parsed.data.definitions)) {
    const gvks = Gvk.safeParse(schema["x-kubernetes-group-version-kind"]);
    // Several kinds share a definition only for the meta types (DeleteOptions, WatchEvent): nothing to validate.
    if (!gvks.success || gvks.data.length !== 1) continue;
    const gvk = gvks.data[0]!;
    await writeFile(
      join(temporary, schemaFileName(gvk)),
      JSON.stringify({ $ref: `_definitions.json#/definitions/${name}` }),
    );
    kinds++;
  }
  const set: SchemaSet = { dir, kubernetesVersion: version, kinds };
  await writeFile(join(temporary, ".complete.json"), JSON.stringify(set));
  await rm(dir, { recursive: true, force: true });
  await rename(temporary, dir);
  return { set, created: true };
}
