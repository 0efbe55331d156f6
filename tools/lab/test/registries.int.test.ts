// Push to and pull from both lab registries by digest, with a tiny image built FROM the lab base image.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_ACCEPT, manifestDigest } from "../src/registry-http.js";
import { type LabState, readLabState } from "../src/state.js";
import { docker } from "./lab-process.js";

const REPOSITORY = "e2e3d-lab-test/probe";

describe("lab registries", () => {
  let lab: LabState;
  const probe = randomBytes(8).toString("hex");
  const created: string[] = [];
  const pushed: { url: string; digest: string }[] = [];

  beforeAll(async () => {
    lab = await readLabState();
  });

  afterAll(async () => {
    // Remove what this suite created: local tags and the manifests it pushed (deletes are enabled in the lab).
    for (const reference of created) {
      await docker(lab.engine.dockerClient, ["image", "rm", "--force", reference]).catch(() => undefined);
    }
    for (const { url, digest } of pushed) {
      await fetch(`${url}/v2/${REPOSITORY}/manifests/${digest}`, { method: "DELETE" }).catch(() => undefined);
    }
  });

  it("pushes to and pulls from both registries by digest", async () => {
    const client = lab.engine.dockerClient;
    const tag = `t-${probe}`;
    const upstreamTag = `${lab.upstream}/${REPOSITORY}:${tag}`;
    // A BuildKit build FROM the pinned lab base, the way the project's Dockerfiles take it.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Dockerfile syntax, not a JS template
    const dockerfile = 'ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nARG PROBE\nRUN echo "$PROBE" > /probe.txt\n';
    await docker(
      client,
      [
        "build",
        "--build-arg",
        `BASE_IMAGE=${lab.baseImage.reference}`,
        "--build-arg",
        `PROBE=${probe}`,
        "-t",
        upstreamTag,
        "-",
      ],
      dockerfile,
    );
    created.push(upstreamTag);
    await docker(client, ["tag", upstreamTag, `${lab.private}/${REPOSITORY}:${tag}`]);
    created.push(`${lab.private}/${REPOSITORY}:${tag}`);

    const digests: string[] = [];
    for (const [role, registry] of [
      ["upstream", lab.upstream],
      ["private", lab.private],
    ] as const) {
      const url = `http://${registry}`;
      const local = `${registry}/${REPOSITORY}:${tag}`;
      const pushOutput = await docker(client, ["push", local]);
      const digest = await manifestDigest(url, REPOSITORY, tag);
      expect(digest, `${role}: tag resolves to a digest`).toMatch(/^sha256:[0-9a-f]{64}$/);
      pushed.push({ url, digest: digest! });
      digests.push(digest!);
      expect(pushOutput, `${role}: docker push reports the digest the registry serves`).toContain(`digest: ${digest}`);

      // The registry serves the manifest bytes that hash to that digest.
      const manifest = await fetch(`${url}/v2/${REPOSITORY}/manifests/${digest}`, {
        headers: { Accept: MANIFEST_ACCEPT },
      });
      expect(manifest.status).toBe(200);
      const bytes = Buffer.from(await manifest.arrayBuffer());
      expect(`sha256:${createHash("sha256").update(bytes).digest("hex")}`).toBe(digest);

      // Drop the local copy, pull by digest only, and run what came back.
      const byDigest = `${registry}/${REPOSITORY}@${digest}`;
      await docker(client, ["image", "rm", local]);
      await docker(client, ["pull", byDigest]);
      created.push(byDigest);
      const content = await docker(client, ["run", "--rm", "--network", "none", byDigest, "cat", "/probe.txt"]);
      expect(content.trim(), `${role}: the pulled image holds this run's probe`).toBe(probe);
    }
    // One image pushed to two registries keeps one digest (the same manifest bytes, the same compressed layers).
    expect(digests[1]).toBe(digests[0]);
  });
});
