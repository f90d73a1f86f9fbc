// kubectl violet push FILE|DIR: verify, push images to --dest-repo, create Artifact/ArtifactVersion,
// ModulePlugin/ModuleConfig or upload the chart.
import { defineCommand } from "citty";
import { globalArgs, outputArgs, serverDryRunArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { CliError, UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printable } from "../../../shared/runtime/redact.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createProgress } from "../../../shared/cli/progress.ts";
import { kubeArgs } from "../../../shared/kube/index.ts";
import { chainCredentials, staticCredentials } from "../../../shared/oci/index.ts";
import { concurrencyArgs, concurrencyOf, noAuth, violetRegistryArgs, violetRegistryOptions, VIOLET_CREDENTIALS_HELP } from "../lib/args.ts";
import { GLOBAL } from "../lib/clusters.ts";
import { checkClusters, checkPlatformFlags, clusterNames, connect, platformArgs, refuseIpv6, type Connection } from "../lib/platform.ts";
import { platformRegistry } from "../lib/platform-registry.ts";
import { checkPushOptions, pushPath, PushError } from "../lib/push.ts";
import { loadKeys } from "../lib/verify.ts";
import { listPackages } from "../../../shared/signing/index.ts";

export default defineCommand({
  meta: {
    name: "push",
    description: "Push packages: images to the registry, then Artifact/ArtifactVersion, ModulePlugin or chart to the platform",
    examples: [
      "kubectl violet push topolvm-operator.stable.amd64.v2.3.0.tgz --dest-repo harbor.demo.io --username admin --password-stdin --clusters region1,region2",
      "kubectl violet push foo-operator.*.tgz --dest-repo harbor.demo.io --username admin --password-stdin   # several files",
      "kubectl violet push ./packages --dest-repo 10.0.0.10:11443 --no-auth --target-catalog-source platform --clusters global,wl1",
      "kubectl violet push plugins-cloudedge-v0.3.16-hybrid.tgz --skip-push",
      "kubectl violet push chartmuseum-v3.16.1.tgz --dest-repo harbor.demo.io --no-auth --target-chartrepo public-charts --dry-run",
      "kubectl violet push topolvm-operator.stable.amd64.v2.3.0.tgz --dest-repo harbor.demo.io --no-auth --clusters region1 --dry-run=server",
      "kubectl violet push pkg.tgz --dest-repo <standby-VIP>:11443 --username u --password-stdin --platform-address https://standby.example.com --platform-token $TOKEN",
    ],
    notes: VIOLET_CREDENTIALS_HELP,
  } as any,
  args: {
    ...globalArgs,
    path: { type: "positional", description: "A package file or a directory of packages (several: each is pushed)", required: true },
    "dest-repo": { type: "string", description: "Registry host[:port][/prefix] that receives the images (needs credentials or --no-auth; default: the platform registry)", valueHint: "HOST" },
    clusters: { type: "string", description: "Clusters that get operator Artifacts (comma list; default: global)", valueHint: "A,B" },
    "target-catalog-source": { type: "string", description: "CatalogSource for operators: platform, system or a custom name (default: the package's, else platform)", valueHint: "NAME" },
    "target-chartrepo": { type: "string", description: "ChartRepo (namespace cpaas-system) for Helm charts (default public-charts)", valueHint: "NAME" },
    "skip-crs": { type: "boolean", description: "Push images only; create no resources" },
    "skip-push": { type: "boolean", description: "Create the resources only; push no images" },
    "skip-verify": { type: "boolean", description: "Do not check the .sig/.sha256 next to each package" },
    keyring: { type: "string", description: "Public key file(s) for .sig verification (repeatable; env VIOLET_KEYRING)", valueHint: "FILE" },
    force: { type: "boolean", description: "Overwrite versions that already exist and point registry tags holding other content at the package's (default: skip existing versions; stop before any upload when a tag differs)" },
    "package-concurrency": { type: "string", description: "Packages pushed in parallel for a directory (default 2)", valueHint: "N" },
    ...serverDryRunArgs,
    ...violetRegistryArgs,
    ...concurrencyArgs,
    ...kubeArgs,
    ...platformArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    // everything that can be refused is refused before anything is read, logged in to or changed
    let destRepo = args["dest-repo"] as string | undefined;
    refuseIpv6("--dest-repo", destRepo);
    checkPlatformFlags(args);
    const targetClusters = clusterNames(rawArgs, args.clusters);
    if (destRepo && !args.username && !args["password-stdin"] && !noAuth(args) && !args["registry-config"]) {
      throw new UsageError("--dest-repo needs registry credentials (--username with --password-stdin/--password, or --registry-config) or --no-auth");
    }
    const registry = await violetRegistryOptions(args, rawArgs);
    const keyrings = repeated(rawArgs, ["keyring"], { split: false });
    if (!keyrings.length && process.env.VIOLET_KEYRING) keyrings.push(process.env.VIOLET_KEYRING);
    const pc = args["package-concurrency"] === undefined ? 2 : Number(args["package-concurrency"]);
    if (!Number.isInteger(pc) || pc < 1 || pc > 32) throw new UsageError(`--package-concurrency: expected a whole number 1..32, got "${args["package-concurrency"]}"`);
    const opts = {
      destRepo,
      registry,
      targetClusters: targetClusters ?? [GLOBAL],
      targetCatalogSource: args["target-catalog-source"] as string | undefined,
      targetChartRepo: args["target-chartrepo"] as string | undefined,
      skipPush: !!args["skip-push"],
      skipCrs: !!args["skip-crs"],
      skipVerify: !!args["skip-verify"],
      force: !!args.force,
      dryRun: !!args["dry-run"],
      // --dry-run=server: every Kubernetes write goes to the API server as a dry run (images: checked, not pushed)
      serverDryRun: args["dry-run"] === "server",
      concurrency: concurrencyOf(args),
      packageConcurrency: pc,
    };
    if (opts.skipCrs && opts.skipPush) throw new UsageError("--skip-crs and --skip-push cannot be used together (there would be nothing to do)");
    // the packages are there before the platform is logged in to
    // every PATH (`push *.tgz` gives several), none silently left out
    const paths = (args._ as string[] | undefined)?.length ? (args._ as string[]).map(String) : [String(args.path)];
    for (const p of paths) {
      const files = await listPackages(p).catch((e) => {
        throw new UsageError((e as Error).message);
      });
      if (!files.length) throw new UsageError(`${p}: no .tgz packages there`, "give a package file or the directory the packages were downloaded to");
    }
    let conn: Connection | undefined;
    if (!opts.skipCrs || !destRepo) {
      conn = await connect(args, rawArgs, { userAgent: "kubectl-violet", fieldManager: "kubectl-violet" });
      // the platform must accept us on every cluster we will write to before any image is copied
      if (!opts.skipCrs) await checkClusters(conn, [...new Set([GLOBAL, ...opts.targetClusters])]);
      if (!destRepo) {
        const wantCreds = !opts.skipPush && !args.username && !noAuth(args) && !args["registry-config"];
        const pr = await platformRegistry(conn.clusters.global, wantCreds);
        destRepo = opts.destRepo = pr.address;
        logger().info(`no --dest-repo: using the platform registry ${pr.address} (from ${pr.source})`);
        if (pr.username && pr.password) {
          const given = registry.credentials;
          registry.credentials = chainCredentials(staticCredentials({ username: pr.username, password: pr.password }, [pr.address]), given);
        }
      }
    }
    try {
      checkPushOptions(opts);
    } catch (e) {
      if (e instanceof PushError) throw new UsageError(e.message, e.hint);
      throw e;
    }
    const keys = await loadKeys(keyrings);
    const structured = args.output === "json" || args.output === "yaml";
    const progress = createProgress({ total: 0, quiet: !!args.quiet });
    const results = await pushPath(paths, {
      ...opts,
      keys,
      clusters: () => conn!.clusters,
      onEvent: progress.onEvent,
      onLine: (l) => {
        progress.finish();
        if (l.startsWith("error: ")) return; // reported once at the end
        if (l.startsWith("warning: ")) logger().warn(l.slice(9));
        else if (l.startsWith("note: ")) logger().info(l.slice(6));
        else if (structured) logger().info(l);
        else process.stdout.write(printable(l) + "\n"); // lines name images and packages from the package file
      },
    });
    progress.finish();
    if (structured) printData(versioned("PackagePushReport", { items: results, summary: { total: results.length, failed: results.filter((r) => r.error).length } }), args.output as string, () => "");
    const failed = results.filter((r) => r.error);
    // each message names its file once
    const named = (f: (typeof results)[number]) => (f.error!.includes(f.file) ? f.error! : `${f.file}: ${f.error}`);
    if (failed.length === 1 && results.length === 1) throw new CliError(named(failed[0]!));
    for (const f of failed) logger().error(named(f));
    if (failed.length) throw new CliError(`${failed.length} of ${results.length} package(s) failed`);
    if (opts.dryRun) logger().info("dry run: nothing was pushed or written");
  },
});
