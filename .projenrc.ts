// The project definition. Every generated file (package.json, tsconfigs, nx.json, project.json files,
// biome/vitest config, .gitignore, workflows) comes from here: edit this file, then run `npx projen`.
// Never write projen's marker text literally in this file: projen deletes every file that contains it.
import { JsonFile, javascript, TextFile, typescript } from "projen";
import { PROJEN_MARKER } from "projen/lib/common.js";
import { addWorkflows } from "./tools/projen/workflows.js";

/** Node 20 is what the build machines have; newer majors of several tools need Node 22 (see README). */
const MIN_NODE = "20.18.1";

/** Versions are pinned to majors that run on Node 20; the README lists which newer majors need Node 22. */
const RUNTIME_DEPS = [
  "@actions/core@^3.0.1",
  "@actions/exec@^3.0.0",
  // Pinned exactly: the Dagger CLI and engine must match the SDK (dagger#6938). See DAGGER_VERSION below.
  "@dagger.io/dagger@0.21.8",
  // Docker's own .dockerignore semantics (a port of moby's matcher): the build input digest must see what the engine sends.
  "@balena/dockerignore@^1.0.2",
  // CycloneDX's official model and JSON serializer for the image SBOM (packages/pipeline/src/attest); purls via packageurl-js.
  "@cyclonedx/cyclonedx-library@~10.3.0",
  "commander@^14.0.3",
  // The Dockerfile parser of the Docker language server: line continuations, escapes, heredocs, exact line numbers.
  "dockerfile-ast@^0.7.1",
  "p-limit@^7.3.3",
  "packageurl-js@^2.0.1",
  // Streams the entries of an image layer (tar) for the SBOM without unpacking it to disk.
  "tar-stream@^3.1.7",
  "testcontainers@~11.9.0",
  "undici@^7.30.2",
  "yaml@^2.9.1",
  "zod@^4.6.7",
];
const DEV_DEPS = [
  // The lab S3 stand-in's integration test talks to it with the AWS SDK (tools/lab/test/standins*.int.test.ts).
  "@aws-sdk/client-s3@^3.1175.0",
  "@biomejs/biome@2.6.8",
  "@types/node@^20",
  "@types/tar-stream@^3.1.4",
  "constructs@^10.5.0",
  // Bundles the lab CLI into one file user nobody can read (tools/lab/test/up.int.test.ts); tsx's own esbuild version.
  "esbuild@~0.28.2",
  "nx@21.6.10",
  "projen@0.103.25",
  "tsx@^4.23.15",
  "typescript@~5.9.3",
  "vitest@~3.2.7",
];

/**
 * The Dagger CLI version that matches the pinned SDK; workflows, README and the lab's engine build use it. 0.21.8, not
 * 0.21.9: the Go module proxy serves github.com/dagger/dagger only up to v0.21.8, and the lab builds the CLI and engine
 * from it. A test (packages/pipeline) checks the SDK, the lab's CLI and its engine report the same version.
 */
export const DAGGER_VERSION = "0.21.8";

const project = new javascript.NodeProject({
  name: "e2e3d-delivery",
  description: "Pipeline-as-code delivery of the E2E3D 3D reconstruction stack",
  defaultReleaseBranch: "main",
  packageManager: javascript.NodePackageManager.NPM,
  minNodeVersion: MIN_NODE,
  license: "Apache-2.0",
  copyrightOwner: "E2E3D delivery authors",
  projenrcJs: false,
  projenrcJson: false,
  jest: false,
  github: false,
  release: false,
  depsUpgrade: false,
  buildWorkflow: false,
  pullRequestTemplate: false,
  npmignoreEnabled: false,
  entrypoint: "",
  deps: RUNTIME_DEPS,
  devDeps: DEV_DEPS,
  gitignore: [
    "/.nx/",
    "/.lab/",
    "/dist/",
    "/reports/",
    "__pycache__/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".mypy_cache/",
    ".venv/",
    ".python-setup.lock",
    "*.egg-info/",
    "/.gl/",
    "/.whl/",
  ],
});

new typescript.ProjenrcTs(project, { runner: typescript.TypeScriptRunner.tsx() });
project.package.addField("type", "module");
project.package.addField("private", true);
project.package.addField("workspaces", ["packages/*"]);

// ---------------------------------------------------------------------------------------------------------
// TypeScript: one strict base config; each package extends it and is type-checked on its own.
const compilerOptions = {
  target: "ES2022",
  lib: ["ES2023"],
  module: "NodeNext",
  moduleResolution: "NodeNext",
  strict: true,
  noUncheckedIndexedAccess: true,
  noImplicitOverride: true,
  esModuleInterop: true,
  skipLibCheck: true,
  resolveJsonModule: true,
  isolatedModules: true,
  verbatimModuleSyntax: true,
  noEmit: true,
  types: ["node"],
};
new JsonFile(project, "tsconfig.base.json", { obj: { compilerOptions }, marker: false });
new JsonFile(project, "tsconfig.json", {
  marker: false,
  obj: {
    extends: "./tsconfig.base.json",
    include: [".projenrc.ts", "vitest.config.ts"],
  },
});

// ---------------------------------------------------------------------------------------------------------
// Lint and format: Biome, one fast tool for both.
new JsonFile(project, "biome.json", {
  marker: false,
  obj: {
    $schema: "./node_modules/@biomejs/biome/configuration_schema.json",
    vcs: { enabled: true, clientKind: "git", useIgnoreFile: true },
    files: { includes: ["**", "!**/node_modules", "!.projen/**", "!**/*.json", "!docker/generated/**"] },
    formatter: { enabled: true, indentStyle: "space", indentWidth: 2, lineWidth: 120 },
    linter: {
      enabled: true,
      rules: {
        preset: "recommended",
        style: { noNonNullAssertion: "off", useTemplate: "off" },
        complexity: { useLiteralKeys: "off" },
        suspicious: { noControlCharactersInRegex: "off" },
      },
    },
    javascript: { formatter: { quoteStyle: "double", semicolons: "always" } },
  },
});

// ---------------------------------------------------------------------------------------------------------
// Nx: every package is a project. Pure tasks are cached with generated files kept out of their inputs
// (projen synth must not invalidate the cache, aws-pdk#375); side-effecting tasks are never cached.
// The skip check runs at the end of every vitest and pytest run (tools/skips): its policy is an input of every test.
const sharedGlobals = [
  "{workspaceRoot}/tsconfig.base.json",
  "{workspaceRoot}/biome.json",
  "{workspaceRoot}/tools/ci/allowed-skips.yaml",
  "{workspaceRoot}/tools/skips/src/**/*",
  "{workspaceRoot}/tools/skips/pytest_skips.py",
];
new JsonFile(project, "nx.json", {
  marker: false,
  obj: {
    $schema: "./node_modules/nx/schemas/nx-schema.json",
    defaultBase: "main",
    // pipelines/ and tools/* have no package.json, so their dependencies are seen only by reading their imports;
    // without this, a change in packages/pipeline would neither re-run ci-workflows' tests (stale cache) nor show
    // them as affected.
    pluginsConfig: { "@nx/js": { analyzeSourceFiles: true } },
    namedInputs: {
      default: ["{projectRoot}/**/*", "sharedGlobals"],
      sharedGlobals,
      production: ["default", "!{projectRoot}/**/*.test.ts", "!{projectRoot}/tests/**/*"],
    },
    targetDefaults: {
      typecheck: { cache: true, dependsOn: ["^typecheck"], inputs: ["default", "^production"] },
      lint: { cache: true, inputs: ["default"] },
      test: { cache: true, dependsOn: ["^build"], inputs: ["default", "^production"] },
      build: { cache: true, dependsOn: ["^build"], inputs: ["production", "^production"] },
      // Integration suites talk to the lab (engines, registries): side effects, never cached.
      integration: { cache: false, dependsOn: ["^build"] },
    },
    parallel: 2,
    useInferencePlugins: false,
    neverConnectToCloud: true,
  },
});

type DependsOn = (string | { projects: string[]; target: string })[];
interface TargetOptions {
  dependsOn?: DependsOn;
  cache?: boolean;
  env?: Record<string, string>;
}
const run = (command: string, extra: TargetOptions = {}) => ({
  executor: "nx:run-commands",
  options: { command, cwd: "{workspaceRoot}", ...(extra.env ? { env: extra.env } : {}) },
  ...(extra.dependsOn ? { dependsOn: extra.dependsOn } : {}),
  ...(extra.cache !== undefined ? { cache: extra.cache } : {}),
});
const labUp = { projects: ["lab"], target: "up" };
// The lab's optional Kubernetes API server (etcd + kube-apiserver, kubectl, helm, kubeconform built from the Go module
// proxy, cached): for suites that dry-run the chart against a real API server. Cold on 2 cores: see tools/lab/README.md.
const labKubeUp = { projects: ["lab"], target: "kube-up" };
// Suites that deploy the stack run against the prepared lab: lab up, lab lock, mirror and first-party images built
// (pipelines/prepare.ts, idempotent), so no suite depends on another having run first. The others need the lab only.
const prepared = { projects: ["pipelines"], target: "prepare" };
const INTEGRATION_ENV = { E2E3D_TEST_KIND: "integration" };

function nxProject(root: string, name: string, targets: Record<string, ReturnType<typeof run>>, tags: string[] = []) {
  const depth = root.split("/").length;
  new JsonFile(project, `${root}/project.json`, {
    marker: false,
    obj: {
      $schema: `${"../".repeat(depth)}node_modules/nx/schemas/project-schema.json`,
      name,
      root,
      tags,
      targets,
    },
  });
}

function tsconfigFor(root: string) {
  const depth = root.split("/").length;
  new JsonFile(project, `${root}/tsconfig.json`, {
    marker: false,
    obj: { extends: `${"../".repeat(depth)}tsconfig.base.json`, include: ["**/*.ts"], exclude: ["node_modules"] },
  });
}

/** Type-check, lint and unit-test a TypeScript directory; integration tests when it has them. */
const tsTargets = (root: string, integration: boolean, integrationDependsOn: DependsOn = [labUp]) => ({
  typecheck: run(`tsc -p ${root}/tsconfig.json`),
  lint: run(`biome check ${root}`),
  test: run(`vitest run --dir ${root}`),
  ...(integration
    ? {
        integration: run(`vitest run --dir ${root}`, { env: INTEGRATION_ENV, dependsOn: integrationDependsOn }),
      }
    : {}),
});

/** TypeScript packages are consumed as source through tsx/vitest; nothing to emit, so no build target. */
interface TsPackage {
  name: string;
  description: string;
  workspaceDeps?: string[];
  integration?: boolean;
  /** Its integration suites deploy the stack: they need the prepared lab, not just the lab. */
  deploysStack?: boolean;
  /** Its integration suites also need the lab's Kubernetes API server (lab:kube-up). */
  kube?: boolean;
}
const TS_PACKAGES: TsPackage[] = [
  {
    name: "oci",
    description: "Registry client: references, manifests, blobs, auth, copy, tag, lock",
    integration: true,
  },
  {
    name: "pipeline",
    description: "Shared runtime: configuration, logging, process execution, engine adapters",
    workspaceDeps: ["oci"],
    integration: true,
  },
  {
    name: "stack",
    description: "The stack model and every artifact generated from it",
    workspaceDeps: ["oci"],
    integration: true,
    deploysStack: true,
    kube: true,
  },
  {
    name: "testkit",
    description: "testcontainers helpers that bring the stack up for tests",
    workspaceDeps: ["oci", "stack", "pipeline"],
    integration: true,
    deploysStack: true,
  },
];

for (const pkg of TS_PACKAGES) {
  const root = `packages/${pkg.name}`;
  new JsonFile(project, `${root}/package.json`, {
    marker: false,
    obj: {
      name: `@e2e3d/${pkg.name}`,
      version: "0.0.0",
      private: true,
      type: "module",
      description: pkg.description,
      exports: { ".": "./src/index.ts" },
      dependencies: Object.fromEntries((pkg.workspaceDeps ?? []).map((d) => [`@e2e3d/${d}`, "*"])),
    },
  });
  tsconfigFor(root);
  const needs: DependsOn = [pkg.deploysStack ? prepared : labUp, ...(pkg.kube ? [labKubeUp] : [])];
  nxProject(root, pkg.name, tsTargets(root, pkg.integration ?? false, needs), ["lang:ts"]);
}

// The lab: brings up the engine, registries and stand-in images the pipelines and suites need.
nxProject(
  "tools/lab",
  "lab",
  {
    up: run("tsx tools/lab/src/cli.ts up", { cache: false }),
    "kube-up": run("tsx tools/lab/src/cli.ts kube up", { cache: false }),
    ...tsTargets("tools/lab", true, ["up"]),
  },
  ["lang:ts"],
);
tsconfigFor("tools/lab");

// The skip check shared by every vitest and pytest run (tools/skips; the allow-list is tools/ci/allowed-skips.yaml).
// Its own project: the test files of every package import its helper, so it must depend on none of them.
nxProject("tools/skips", "skips", tsTargets("tools/skips", false), ["lang:ts"]);
tsconfigFor("tools/skips");

// Entry points: thin, but type-checked, linted and tested like the rest.
nxProject(
  "pipelines",
  "pipelines",
  {
    prepare: run("tsx pipelines/prepare.ts", { cache: false, dependsOn: [labUp] }),
    ...tsTargets("pipelines", true, ["prepare"]),
  },
  ["lang:ts"],
);
tsconfigFor("pipelines");

// GitHub Actions workflows (tools/projen/workflows.ts) and the release gate. The tests read the generated workflows,
// the projen definition and the entry points they call, so those are inputs too.
const CI_INPUTS = [
  "default",
  "{workspaceRoot}/.github/workflows/*",
  "{workspaceRoot}/tools/projen/**/*",
  "{workspaceRoot}/pipelines/*.ts",
];
nxProject(
  "tools/ci",
  "ci-workflows",
  {
    ...tsTargets("tools/ci", true),
    lint: Object.assign(run("biome check tools/ci tools/projen"), { inputs: CI_INPUTS }),
    test: Object.assign(run("vitest run --dir tools/ci"), { inputs: CI_INPUTS }),
  },
  ["lang:ts"],
);
tsconfigFor("tools/ci");

// Python packages: locked with uv, tested with pytest, run by Nx like the rest.
// `integration` (optional): the package's command for its Docker/lab tests, run after `lab:up`.
const PY_PACKAGES: { name: string; root: string; integration?: string }[] = [
  // The end-to-end job against the lab S3 server, wrong credentials and restart-during-job: pytest `integration` marker.
  { name: "reconstruction", root: "packages/reconstruction", integration: "pytest -q -m integration -s" },
  // Image tests (build, non-root, init twice on the lab's Postgres, health) carry pytest's `integration` marker.
  { name: "airflow-dags", root: "packages/airflow-dags", integration: "pytest -q -m integration" },
];
for (const pkg of PY_PACKAGES) {
  nxProject(
    pkg.root,
    pkg.name,
    {
      test: run(`tools/python/run ${pkg.root} pytest -q`),
      lint: run(`tools/python/run ${pkg.root} ruff check .`),
      ...(pkg.integration
        ? {
            integration: run(`tools/python/run ${pkg.root} ${pkg.integration}`, {
              env: INTEGRATION_ENV,
              dependsOn: [labUp],
            }),
          }
        : {}),
    },
    ["lang:python"],
  );
}

// ---------------------------------------------------------------------------------------------------------
// Vitest: one config; E2E3D_TEST_KIND selects unit (default) or integration files.
new TextFile(project, "vitest.config.ts", {
  lines: [
    `// ${PROJEN_MARKER}. To modify, edit .projenrc.ts and run "npx projen".`,
    'import { tmpdir } from "node:os";',
    'import { join } from "node:path";',
    'import { defineConfig } from "vitest/config";',
    "",
    'const integration = process.env.E2E3D_TEST_KIND === "integration";',
    "// Where describeUnless (tools/skips) records skipped suites for the skip check: one file per run, never inherited.",
    'const skipRecords = join(tmpdir(), "e2e3d-skips-" + process.pid + "-" + Date.now().toString(36) + ".jsonl");',
    'process.env["E2E3D_SKIP_RECORDS"] = skipRecords;',
    "",
    "export default defineConfig({",
    "  test: {",
    '    include: integration ? ["**/*.int.test.ts"] : ["**/*.test.ts"],',
    '    exclude: ["**/node_modules/**", ...(integration ? [] : ["**/*.int.test.ts"])],',
    "    testTimeout: integration ? 600_000 : 20_000,",
    "    hookTimeout: integration ? 900_000 : 20_000,",
    "    // Integration suites share one Docker engine and the lab registries: run their files one at a time.",
    "    fileParallelism: !integration,",
    "    env: { E2E3D_SKIP_RECORDS: skipRecords },",
    "    // The skip check: every skip printed with its reason; in CI, one not in tools/ci/allowed-skips.yaml fails the run.",
    "    reporters: [",
    '      ...(process.env.GITHUB_ACTIONS ? ["default", "github-actions"] : ["default"]),',
    '      "./tools/skips/src/vitest-reporter.ts",',
    "    ],",
    "  },",
    "});",
    "",
  ],
});

// ---------------------------------------------------------------------------------------------------------
// Tasks: `npm test` runs every check the repository has; `npm run deliver` runs the delivery.
project.testTask.reset();
project.testTask.exec("tools/ci/synth-check");
project.testTask.exec("nx run-many -t lint typecheck test --outputStyle=stream");
project.testTask.exec("nx run-many -t integration --parallel=1 --outputStyle=stream");
project.addTask("lab", { exec: "tsx tools/lab/src/cli.ts", receiveArgs: true });
project.addTask("deliver", { exec: "tsx pipelines/deploy.ts", receiveArgs: true });

addWorkflows(project, { daggerVersion: DAGGER_VERSION });
project.synth();
