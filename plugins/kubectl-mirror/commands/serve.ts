// kubectl mirror serve ARCHIVE|oci-layout:DIR — a read-only OCI registry straight from an archive (or its split
// parts) or an OCI layout, like `palette content serve` / `hauler store serve registry`.
import { defineCommand, type CommandMeta } from "citty";
import { outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { serveArchive } from "../lib/serve.ts";

export const DESCRIPTION = "Serve an archive (or its split parts) or an OCI layout as a read-only OCI registry: pull with docker, skopeo, helm, oras or kubectl mirror copy";

export default defineCommand({
  meta: {
    name: "serve",
    description: DESCRIPTION,
    examples: [
      "kubectl mirror serve bundle.tar.zst                                   # http://127.0.0.1:5000",
      "kubectl mirror serve big.tar.parts --address 0.0.0.0:5443 --tls-cert tls.crt --tls-key tls.key",
      "kubectl mirror serve oci-layout:./store --address :5000",
      "skopeo inspect --tls-verify=false docker://127.0.0.1:5000/acme/app:1.0",
      "helm pull oci://127.0.0.1:5000/charts/app --version 1.2.3 --plain-http",
    ],
  } as CommandMeta,
  args: {
    source: { type: "positional", required: true, description: "Archive (.tar, .tar.gz, .tar.zst, NAME.parts of a split one) or oci-layout:DIR", valueHint: "ARCHIVE" },
    address: { type: "string", description: "Listen address (default 127.0.0.1:5000; :0 picks a free port)", valueHint: "HOST:PORT" },
    "tls-cert": { type: "string", description: "Serve HTTPS with this certificate (PEM, with --tls-key)", valueHint: "FILE" },
    "tls-key": { type: "string", description: "Private key of --tls-cert (PEM)", valueHint: "FILE" },
    repository: { type: "string", description: "Repository for bare tags (archives written by skopeo/copy; default: the archive's base name)", valueHint: "NAME" },
    "temp-dir": { type: "string", description: "Where a gzip/zstd archive is decompressed once (default: system temp dir)", valueHint: "DIR" },
    ...outputArgs,
  },
  async run({ args }) {
    const log = logger();
    const src = args.source as string | undefined;
    if (!src) throw new UsageError("no archive given", "kubectl mirror serve ARCHIVE|oci-layout:DIR");
    const srv = await serveArchive(src, {
      address: args.address as string | undefined,
      tlsCert: args["tls-cert"] as string | undefined,
      tlsKey: args["tls-key"] as string | undefined,
      repository: args.repository as string | undefined,
      tempDir: args["temp-dir"] as string | undefined,
      onInfo: (m) => log.info(m),
      onRequest: (r) => log.debug(`${r.method} ${r.path} → ${r.status}`),
    });
    const repos = [...srv.catalog.repos.entries()].sort(([a], [b]) => a.localeCompare(b));
    const tags = repos.reduce((n, [, t]) => n + t.size, 0);
    printData(versioned("ServeInfo", { url: srv.url, host: srv.host, repositories: repos.map(([name, t]) => ({ name, tags: [...t.keys()].sort() })) }), args.output as string | undefined, () => table(["repository", "tags"], repos.map(([name, t]) => [`${srv.host}/${name}`, [...t.keys()].sort().join(", ")])));
    log.info(`serving ${src} at ${srv.url} (read-only): ${repos.length} repositories, ${tags} tags; Ctrl-C to stop`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    await srv.stop();
  },
});
