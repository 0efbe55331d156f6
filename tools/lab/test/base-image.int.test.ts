// The lab base image: in the upstream under both tags, labelled as a stand-in, and it runs.
import { beforeAll, describe, expect, it } from "vitest";
import { BASE_REPOSITORY } from "../src/config.js";
import { imageLabels, manifestDigest } from "../src/registry-http.js";
import { type LabState, readLabState } from "../src/state.js";
import { docker } from "./lab-process.js";

describe("lab base image", () => {
  let lab: LabState;
  beforeAll(async () => {
    lab = await readLabState();
  });

  it("is in the upstream as debian:bookworm and its true point release, one digest", async () => {
    const url = `http://${lab.upstream}`;
    expect(lab.baseImage.reference).toBe(`${lab.upstream}/${BASE_REPOSITORY}@${lab.baseImage.digest}`);
    expect(await manifestDigest(url, BASE_REPOSITORY, "bookworm")).toBe(lab.baseImage.digest);
    expect(await manifestDigest(url, BASE_REPOSITORY, lab.baseImage.debianVersion)).toBe(lab.baseImage.digest);
    const labels = await imageLabels(url, BASE_REPOSITORY, lab.baseImage.digest);
    expect(labels).toMatchObject({
      "dev.e2e3d.lab.stand-in": "true",
      "org.opencontainers.image.version": lab.baseImage.debianVersion,
    });
  });

  it("runs a container whose Debian version matches its tag", async () => {
    const output = await docker(lab.engine.dockerClient, [
      "run",
      "--rm",
      "--network",
      "none",
      lab.baseImage.reference,
      "sh",
      "-c",
      "cat /etc/debian_version; . /etc/os-release; echo $VERSION_CODENAME",
    ]);
    expect(output.trim().split("\n")).toEqual([lab.baseImage.debianVersion, "bookworm"]);
  });
});
