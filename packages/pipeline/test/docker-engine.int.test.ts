import { describeUnless } from "../../../tools/skips/src/skip.js";
import { DockerEngine } from "../src/engines/docker.js";
import { engineContract } from "./support/engine-contract.js";
import { DOCKER, integrationSkipReason } from "./support/env.js";

const skipReason = integrationSkipReason();

describeUnless(skipReason)("engine contract: Docker (BuildKit through Debian's client)", () => {
  engineContract(() => new DockerEngine({ client: DOCKER }));
});
