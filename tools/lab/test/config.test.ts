import { describe, expect, it } from "vitest";
import { DEFAULT_ENDPOINTS, labStateDir, loadConfig, parseRegistryAddress } from "../src/config.js";
import { LabConfigError } from "../src/errors.js";

describe("lab configuration", () => {
  it("defaults to the shared contract's endpoints and state dir", () => {
    const config = loadConfig({ HOME: "/home/someone" });
    expect(config.upstream).toEqual({ host: "127.0.0.1", port: 5101 });
    expect(config.private).toEqual({ host: "127.0.0.1", port: 5102 });
    expect(config.stateDir).toBe("/home/someone/.local/state/e2e3d-lab");
    expect(DEFAULT_ENDPOINTS).toEqual({ upstream: "127.0.0.1:5101", private: "127.0.0.1:5102" });
  });

  it("honours E2E3D_LAB_HOME and the registry overrides", () => {
    const env = {
      HOME: "/home/someone",
      E2E3D_LAB_HOME: "/srv/lab",
      E2E3D_UPSTREAM_REGISTRY: "127.0.0.1:6101",
      E2E3D_PRIVATE_REGISTRY: "localhost:6102",
    };
    const config = loadConfig(env);
    expect(config.stateDir).toBe("/srv/lab");
    expect(config.upstream).toEqual({ host: "127.0.0.1", port: 6101 });
    expect(config.private).toEqual({ host: "localhost", port: 6102 });
    expect(labStateDir({ E2E3D_LAB_HOME: "  ", HOME: "/h" })).toBe("/h/.local/state/e2e3d-lab");
  });

  it("rejects a registry address the lab cannot serve, naming the variable and the fix", () => {
    for (const bad of ["registry.example.com:5000", "0.0.0.0:5101", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:0"]) {
      expect(() => parseRegistryAddress(bad, "E2E3D_UPSTREAM_REGISTRY")).toThrow(LabConfigError);
    }
    try {
      parseRegistryAddress("registry.example.com:5000", "E2E3D_UPSTREAM_REGISTRY");
    } catch (error) {
      expect((error as LabConfigError).context).toMatchObject({ variable: "E2E3D_UPSTREAM_REGISTRY" });
      expect((error as LabConfigError).hint).toContain("loopback");
    }
  });

  it("rejects the same address for both registries", () => {
    expect(() =>
      loadConfig({ HOME: "/h", E2E3D_UPSTREAM_REGISTRY: "127.0.0.1:5102", E2E3D_PRIVATE_REGISTRY: "127.0.0.1:5102" }),
    ).toThrow(/must not share an address/);
  });
});
