// undefined
import { defineConfig } from "vitest/config";

const integration = process.env.E2E3D_TEST_KIND === "integration";

export default defineConfig({
  test: {
    include: integration ? ["**/*.int.test.ts"] : ["**/*.test.ts"],
    exclude: ["**/node_modules/**", ...(integration ? [] : ["**/*.int.test.ts"])],
    testTimeout: integration ? 600_000 : 20_000,
    hookTimeout: integration ? 900_000 : 20_000,
    // Integration suites share one Docker engine and the lab registries: run their files one at a time.
    fileParallelism: !integration,
    reporters: process.env.GITHUB_ACTIONS ? ["default", "github-actions"] : ["default"],
  },
});