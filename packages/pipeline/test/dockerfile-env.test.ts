import { describe, expect, it } from "vitest";
import { envDeclaredNames, leakedBuildArgs } from "../src/engines/dockerfile-env.js";

// Dockerfile text: its ${...} are Dockerfile variables, not template placeholders.
const v = (name: string) => `\${${name}}`;

describe("Dockerfile ENV names (what the Dagger adapter must keep in the image's environment)", () => {
  it("reads both ENV forms, continuations and several pairs, ignoring comments and other instructions", () => {
    const dockerfile = [
      "ARG BASE_IMAGE",
      `FROM ${v("BASE_IMAGE")}`,
      "# ENV COMMENTED=1",
      "ARG VERSION=1",
      `ENV APP_HOME=/opt/app PATH="/opt/app/bin:${v("PATH")}" \\`,
      "    LANG=C.UTF-8",
      "env legacy_name some value here",
      "RUN echo GREETING=not-an-env",
    ].join("\n");
    expect([...envDeclaredNames(dockerfile)].sort()).toEqual(["APP_HOME", "LANG", "PATH", "legacy_name"]);
  });

  it("a build arg is leaked unless an ENV sets it", () => {
    const dockerfile = `FROM x\nARG GREETING\nARG MODE\nENV MODE=${v("MODE")}\n`;
    expect(leakedBuildArgs(dockerfile, ["GREETING", "MODE", "SOURCE_DATE_EPOCH"])).toEqual([
      "GREETING",
      "SOURCE_DATE_EPOCH",
    ]);
  });
});
