import { describe } from "vitest";
import { DockerEngine } from "../src/engines/docker.js";
import { engineContract } from "./support/engine-contract.js";
import { DOCKER, integrationSkipReason } from "./support/env.js";

const skipReason = integrationSkipReason();
if (skipReason) console.log(`Docker engine contract skipped: ${skipReason}`);

describe.skipIf(skipReason)("engine contract: Docker (BuildKit through Debian's client)", () => {
  engineContract(() => new DockerEngine({ client: DOCKER }));
});
