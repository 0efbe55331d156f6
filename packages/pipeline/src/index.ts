export * from "./attest/attest.js";
export * from "./attest/layers.js";
export * from "./attest/provenance.js";
export * from "./attest/read.js";
export * from "./attest/sbom.js";
export * from "./build/command.js";
export * from "./build/context.js";
export * from "./build/images.js";
export * from "./build/input-digest.js";
export * from "./build/lint.js";
export * from "./build/report.js";
export * from "./build/run.js";
export * from "./build/tags.js";
export * from "./config.js";
export * from "./delivery/lab.js";
// The Dagger adapter is not re-exported: its SDK is loaded on demand by createEngine("dagger"). dagger-cli only
// finds the CLI and checks versions, without loading the SDK.
export * from "./engines/dagger-cli.js";
export * from "./engines/docker.js";
export * from "./engines/engine.js";
export * from "./engines/select.js";
export * from "./errors.js";
export * from "./exec.js";
export * from "./git.js";
export * from "./log/index.js";
export * from "./registry.js";
export * from "./reports.js";
