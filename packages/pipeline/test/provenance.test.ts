// The provenance statement: in-toto v1 + SLSA v1 shape, determinism (the property that makes re-attaching a
// no-op), and that no secret can get into it.
import { describe, expect, it } from "vitest";
import {
  BUILD_TYPE,
  type ProvenanceInput,
  provenanceStatement,
  publicBuildArgs,
  SLSA_PROVENANCE_V1,
  STATEMENT_TYPE,
  summariseProvenance,
} from "../src/attest/provenance.js";

const base = `127.0.0.1:5102/docker.io/library/debian@sha256:${"b".repeat(64)}`;
const input: ProvenanceInput = {
  repository: "127.0.0.1:5102/e2e3d/app",
  digest: `sha256:${"a".repeat(64)}`,
  dockerfile: "docker/app/Dockerfile",
  context: ".",
  include: ["docker/app", "src"],
  target: "runtime",
  buildArgs: { BASE_IMAGE: base, PIP_INDEX_TOKEN: "hunter2", ca_bundle: "/etc/ssl/x.pem", VERSION: "1" },
  inputDigest: `sha256:${"c".repeat(64)}`,
  source: { commit: "0123456789abcdef0123456789abcdef01234567", dirty: false },
  base: { name: "debian-bookworm", reference: base },
  builder: { engine: "docker", version: "docker 20.10.24 (BuildKit)" },
};

describe("provenanceStatement", () => {
  it("is an in-toto Statement v1 with a SLSA v1 predicate naming image, inputs, commit, base and builder", () => {
    const json = JSON.parse(provenanceStatement(input).toString("utf8"));
    expect(json._type).toBe(STATEMENT_TYPE);
    expect(json.predicateType).toBe(SLSA_PROVENANCE_V1);
    expect(json.subject).toEqual([{ name: input.repository, digest: { sha256: "a".repeat(64) } }]);
    expect(json.predicate.buildDefinition).toMatchObject({
      buildType: BUILD_TYPE,
      externalParameters: {
        dockerfile: "docker/app/Dockerfile",
        context: ".",
        target: "runtime",
        buildArgs: { BASE_IMAGE: base, VERSION: "1" },
      },
      resolvedDependencies: [
        { digest: { gitCommit: input.source!.commit } },
        { uri: "oci://127.0.0.1:5102/docker.io/library/debian", digest: { sha256: "b".repeat(64) } },
      ],
    });
    expect(json.predicate.runDetails.builder).toEqual({
      id: "https://e2e3d.dev/builders/docker",
      version: { engine: "docker 20.10.24 (BuildKit)" },
    });
    expect(json.predicate.runDetails.metadata.invocationId).toBe(input.inputDigest);
  });

  it("never carries a secret: credential-like args are dropped, credentials in a URL are refused", () => {
    const text = provenanceStatement(input).toString("utf8");
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("ca_bundle");
    expect(text).not.toContain("x.pem");
    expect(() => publicBuildArgs({ PIP_INDEX_URL: "https://user:pass@pypi.example/simple" })).toThrow(
      /credentials in a URL/,
    );
  });

  it("is byte-identical for the same inputs (any arg order) and differs when an input differs", () => {
    const bytes = provenanceStatement(input);
    const reordered = { ...input, buildArgs: { VERSION: "1", ca_bundle: "z", BASE_IMAGE: base } };
    expect(provenanceStatement(reordered).equals(bytes)).toBe(true);
    expect(provenanceStatement({ ...input }).equals(bytes)).toBe(true);
    expect(provenanceStatement({ ...input, digest: `sha256:${"d".repeat(64)}` }).equals(bytes)).toBe(false);
    expect(provenanceStatement({ ...input, source: { commit: "f".repeat(40), dirty: false } }).equals(bytes)).toBe(
      false,
    );
  });

  it("reads back as a summary; an image cached before provenance existed names no builder version", () => {
    expect(summariseProvenance(provenanceStatement(input))).toEqual({
      subject: `${input.repository}@${input.digest}`,
      commit: input.source!.commit,
      dirty: false,
      base,
      builder: "https://e2e3d.dev/builders/docker",
      builderVersion: "docker 20.10.24 (BuildKit)",
      inputDigest: input.inputDigest,
    });
    const cached = summariseProvenance(provenanceStatement({ ...input, builder: undefined, source: undefined }));
    expect(cached).toMatchObject({ builder: "https://e2e3d.dev/builders/unrecorded", commit: undefined });
    expect(() => summariseProvenance(Buffer.from('{"_type":"other"}'))).toThrow(/not an in-toto Statement v1/);
  });
});
