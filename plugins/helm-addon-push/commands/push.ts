// `helm addon-push SOURCE... REPO` — the root command. Flag names follow `helm cm-push` / `vela addon push`.
import { defineCommand, type ArgsDef } from "citty";
import { outputArgs, dryRunArgs, registryArgs } from "../../../shared/cli/args.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { printable } from "../../../shared/runtime/redact.ts";

// registry-only flags (oci:// targets); the shared username/password/ca-file/insecure are redefined below
const { username: _u, password: _p, "password-stdin": _ps, "ca-file": _ca, insecure: _in, ...registryOnly } = registryArgs;

export const pushArgs = {
  sources: { type: "positional", required: false, description: "KubeVela addon dirs, chart dirs or packaged charts (.tgz), then REPO", valueHint: "SOURCE... REPO" },
  version: { type: "string", alias: ["v"], description: "Override the chart version" },
  "app-version": { type: "string", alias: ["a"], description: "Override the chart appVersion" },
  username: { type: "string", alias: ["u"], description: "Repository username [$HELM_REPO_USERNAME]" },
  password: { type: "string", alias: ["p"], description: "Repository password [$HELM_REPO_PASSWORD] (prefer --password-stdin)" },
  "password-stdin": { type: "boolean", description: "Read the password from stdin" },
  "access-token": { type: "string", description: "Send this token as Authorization: Bearer [$HELM_REPO_ACCESS_TOKEN]" },
  "auth-header": { type: "string", description: "Send the token in this header instead [$HELM_REPO_AUTH_HEADER]" },
  "context-path": { type: "string", description: "ChartMuseum context path (default: from the repo's index.yaml) [$HELM_REPO_CONTEXT_PATH]" },
  "ca-file": { type: "string", description: "Verify the server with this CA bundle [$HELM_REPO_CA_FILE; default: the repo's caFile]" },
  "cert-file": { type: "string", description: "Client certificate [$HELM_REPO_CERT_FILE; default: the repo's certFile]" },
  "key-file": { type: "string", description: "Client key [$HELM_REPO_KEY_FILE; default: the repo's keyFile]" },
  insecure: { type: "boolean", description: "Skip TLS verification [$HELM_REPO_INSECURE; default: the repo's insecure_skip_tls_verify]" },
  "use-http": { type: "boolean", description: "A cm:// REPO means http:// instead of https:// (vela addon push's and cm-push's --use-http) [$HELM_REPO_USE_HTTP]; oci:// targets: same as --plain-http" },
  force: { type: "boolean", alias: ["f"], description: "Overwrite a version that already exists" },
  "skip-existing": { type: "boolean", description: "Treat a version that already exists as success (no overwrite)" },
  "keep-chartmeta": { type: "boolean", description: "Addon dirs: use the dir's Chart.yaml instead of generating it from metadata.yaml" },
  "dependency-update": { type: "boolean", alias: ["d"], description: "Chart dirs: run `helm dependency update` before packaging (a chart whose dependencies are missing from charts/ is refused otherwise)" },
  keyring: { type: "string", description: "Keyring of public keys for the dependency update (default: Helm's)", valueHint: "FILE" },
  timeout: { type: "string", alias: ["t"], description: "Seconds to wait for the repository without progress (default 30; 30s, 2m also accepted)" },
  concurrency: { type: "string", description: "Sources pushed in parallel (default 4)" },
  "check-helm-version": { type: "boolean", description: "Print the major version of $HELM_BIN and exit" },
  ...dryRunArgs,
  ...outputArgs,
  ...registryOnly,
} as const satisfies ArgsDef;

/** What each credential applies to (--help); kept true by test/cli/credentials-help.test.ts. */
export const ADDON_PUSH_CREDENTIALS_HELP = [
  "CREDENTIALS (the first that applies wins; each goes only to REPO's server):",
  "  ChartMuseum (a repositories.yaml name, http(s):// or cm:// URL):",
  "    -u/--username + -p/--password|--password-stdin (empty flags filled from $HELM_REPO_USERNAME/",
  "    $HELM_REPO_PASSWORD), then --access-token ($HELM_REPO_ACCESS_TOKEN) as Authorization: Bearer or in",
  "    --auth-header ($HELM_REPO_AUTH_HEADER), then the username/password of the repositories.yaml entry (a repo",
  "    name; $HELM_REPOSITORY_CONFIG); TLS the same way: --ca-file/--cert-file/--key-file/--insecure, $HELM_REPO_*,",
  "    then the entry's caFile/certFile/keyFile/insecure_skip_tls_verify",
  "  OCI (oci://…, or a repositories.yaml entry with an oci:// URL): -u/--username + -p/--password|--password-stdin,",
  "    then REGISTRY_USERNAME/REGISTRY_PASSWORD, then the entry stored for the registry's host in Helm's registry",
  "    config ($HELM_REGISTRY_CONFIG, written by `helm registry login`), then docker config.json and its credential",
  "    helpers; --registry-config FILE replaces both files. $HELM_REPO_*, --access-token and repositories.yaml",
  "    credentials are not used for OCI",
  "  -d (helm dependency update): helm reads its own repositories.yaml and registry config",
];

function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new UsageError(`invalid ${flag} "${v}" (seconds, or e.g. 30s, 2m)`);
  const n = Number(m[1]);
  return m[2] === "ms" ? n : m[2] === "m" ? n * 60_000 : n * 1000;
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString("utf8").replace(/\r?\n$/, "");
}

export default defineCommand({
  meta: {
    name: "addon-push",
    description: "Package KubeVela addons / Helm charts and push them to a ChartMuseum-compatible repo or an OCI registry",
    examples: [
      "helm addon-push ./fluxcd localcm                      # addon dir → repo from repositories.yaml",
      "helm addon-push addons/* https://cm.example.com -f     # many sources, overwrite existing versions",
      "helm addon-push mychart-0.1.0.tgz localcm --skip-existing",
      "helm addon-push ./mychart localcm -d                  # helm dependency update first, like cm-push",
      "helm addon-push ./fluxcd oci://registry.example.com/addons",
      "helm addon-push ./fluxcd cm://cm.local:8080 --use-http  # vela addon push's cm:// + --use-http",
      "helm addon-push package ./fluxcd -d dist/",
    ],
    notes: ADDON_PUSH_CREDENTIALS_HELP,
  } as any,
  args: pushArgs,
  async run({ args, rawArgs }) {
    if (args["check-helm-version"]) {
      const { helmMajorVersion } = await import("../lib/helm.ts");
      process.stdout.write(`${await helmMajorVersion()}\n`);
      return;
    }
    const pos = (args._ as string[]).map(String);
    if (pos.length < 2) throw new UsageError("this command needs at least 2 arguments: SOURCE... (addon dir, chart dir or .tgz) and REPO (repo name, URL or oci://…)", 'see "helm addon-push --help"');
    const repoArg = pos[pos.length - 1]!;
    const sources = pos.slice(0, -1);
    if (args.force && args["skip-existing"]) throw new UsageError("--force and --skip-existing cannot be used together");
    const out = args.output as string | undefined; // json|yaml, checked by the entry
    const concurrency = args.concurrency ? Number(args.concurrency) : 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`invalid --concurrency "${args.concurrency}" (a positive integer)`);
    const timeoutMs = seconds(args.timeout as string | undefined, "--timeout");

    const { resolveTarget, withEnvDefaults, targetLabel } = await import("../lib/target.ts");
    const { pushAll, resultLine } = await import("../lib/push.ts");
    const { registerSecret } = await import("../../../shared/runtime/redact.ts");

    let password = args.password as string | undefined;
    registerSecret(password);
    if (password) {
      const { warnPasswordOnCommandLine } = await import("../../../shared/cli/registry.ts");
      warnPasswordOnCommandLine("--password", "--password-stdin or HELM_REPO_PASSWORD");
    }
    const flags = withEnvDefaults({
      username: args.username as string | undefined,
      password,
      accessToken: args["access-token"] as string | undefined,
      authHeader: args["auth-header"] as string | undefined,
      contextPath: args["context-path"] as string | undefined,
      caFile: args["ca-file"] as string | undefined,
      certFile: args["cert-file"] as string | undefined,
      keyFile: args["key-file"] as string | undefined,
      insecure: args.insecure ? true : undefined,
      useHttp: args["use-http"] ? true : undefined,
    });
    const target = await resolveTarget(repoArg, flags);
    let registry: unknown;
    if (target.kind === "oci") {
      const { registryOptionsForHelm } = await import("../lib/registry.ts");
      registry = await registryOptionsForHelm({ ...args, ...(args["use-http"] ? { "plain-http": true } : {}) } as Record<string, unknown>, rawArgs);
    } else if (args["password-stdin"]) {
      password = await readStdin();
      registerSecret(password);
      target.auth = { username: target.auth.username ?? flags.username, password };
    }

    const log = logger();
    const results = await pushAll(sources, target, {
      version: args.version as string | undefined,
      appVersion: args["app-version"] as string | undefined,
      keepChartmeta: !!args["keep-chartmeta"],
      dependencyUpdate: !!args["dependency-update"],
      keyring: args.keyring as string | undefined,
      force: !!args.force,
      skipExisting: !!args["skip-existing"],
      concurrency,
      timeoutMs,
      dryRun: !!args["dry-run"],
      registry,
      onResult: (r) => {
        for (const w of r.warnings ?? []) log.warn(w);
        if (out) return;
        if (r.status !== "failed") process.stdout.write(printable(resultLine(r)) + "\n");
        else if (sources.length > 1) log.error(resultLine(r));
      },
    });
    if (out) printData(versioned("ChartPushReport", results), out, () => "");
    const failed = results.filter((r) => r.status === "failed");
    if (failed.length === 1 && sources.length === 1) throw new CliError(failed[0]!.error ?? "push failed");
    if (failed.length) throw new CliError(`${failed.length} of ${results.length} pushes to ${targetLabel(target)} failed`);
  },
});
