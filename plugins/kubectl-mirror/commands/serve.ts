// kubectl mirror serve ARCHIVE|oci-layout:DIR — a read-only OCI registry straight from an archive (or its split
// parts) or an OCI layout, like `palette content serve` / `hauler store serve registry`.
import { defineCommand, type CommandMeta } from "citty";
import { keyArgs, logTrust, verifyKeysFromArgs } from "../lib/inputs/sign-args.ts";
import { outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, table, versioned } from "../../../shared/cli/output.ts";
import { readKeyring } from "../../../shared/signing/gpg.ts";
import { serveArchive } from "../lib/serve/serve.ts";

export const DESCRIPTION = "Serve an archive (or its split parts) or an OCI layout as a read-only OCI registry: pull with docker, skopeo, helm, oras or kubectl mirror copy";

export default defineCommand({
  meta: {
    name: "serve",
    description: DESCRIPTION,
    examples: [
      "kubectl mirror serve bundle.tar.zst                                   # http://127.0.0.1:5000",
      "kubectl mirror serve big.tar.parts --address 0.0.0.0:5443 --tls-cert tls.crt --tls-key tls.key --htpasswd htpasswd",
      "htpasswd -Bbn admin 's3cret' > htpasswd                              # bcrypt entries, as distribution and Zot",
      "kubectl mirror serve oci-layout:./store --address :5000 --verify     # every interface; all digests checked first",
      "kubectl mirror serve packs.tar.zst --pack-keyring spectro.gpg         # every pack's signature checked first",
      "kubectl mirror serve bundle.tar.zst --key key.pub                       # only if signed by key.pub and intact",
      "skopeo inspect --tls-verify=false docker://127.0.0.1:5000/acme/app:1.0",
      "helm pull oci://127.0.0.1:5000/charts/app --version 1.2.3 --plain-http",
    ],
  } as CommandMeta,
  args: {
    source: { type: "positional", required: true, description: "Archive (.tar, .tar.gz, .tar.zst, NAME.parts of a split one) or oci-layout:DIR", valueHint: "ARCHIVE" },
    address: { type: "string", description: "Listen address (default 127.0.0.1:5000; :0 picks a free port)", valueHint: "HOST:PORT" },
    "tls-cert": { type: "string", description: "Serve HTTPS with this certificate (PEM, with --tls-key)", valueHint: "FILE" },
    "tls-key": { type: "string", description: "Private key of --tls-cert (PEM)", valueHint: "FILE" },
    htpasswd: { type: "string", description: "Require Basic auth: users of this htpasswd file (bcrypt entries, `htpasswd -B`, as distribution and Zot)", valueHint: "FILE" },
    verify: { type: "boolean", description: "Check every blob's digest before serving (default: each blob the first time it is served; bytes that do not match are never sent)" },
    "pack-keyring": { type: "string", description: "OpenPGP public key(s): every pack in the archive must carry a signature that verifies with them, or nothing is served", valueHint: "FILE" },
    repository: { type: "string", description: "Repository for bare tags (archives written by skopeo/copy; default: the archive's base name)", valueHint: "NAME" },
    "temp-dir": { type: "string", description: "Where a gzip/zstd archive is decompressed once (default: system temp dir)", valueHint: "DIR" },
    ...keyArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const log = logger();
    const src = args.source as string | undefined;
    if (!src) throw new UsageError("no archive given", "kubectl mirror serve ARCHIVE|oci-layout:DIR");
    const given = (args._ as string[] | undefined) ?? [];
    if (given.length > 1) throw new UsageError(`serve takes one archive, got ${given.length}: ${given.join(" ")}`, "run one serve per archive (each on its own --address), or push them into one registry");
    const packKeys = args["pack-keyring"] ? await readKeyring(String(args["pack-keyring"])) : undefined;
    const keys = await verifyKeysFromArgs(rawArgs);
    const srv = await serveArchive(src, {
      address: args.address as string | undefined,
      tlsCert: args["tls-cert"] as string | undefined,
      tlsKey: args["tls-key"] as string | undefined,
      htpasswd: args.htpasswd as string | undefined,
      verify: !!args.verify,
      packKeys,
      keys,
      repository: args.repository as string | undefined,
      tempDir: args["temp-dir"] as string | undefined,
      onInfo: (m) => log.info(m),
      onWarn: (m) => log.warn(m),
      onRequest: (r) => log.debug(`${r.method} ${r.path} → ${r.status}`),
    });
    logTrust([srv.trust]);
    for (const p of srv.packSignatures ?? []) log.info(`pack ${p.ref}: signature VERIFIED (key ${p.keyID.toUpperCase()})`);
    if (srv.packSignatures && !srv.packSignatures.length) log.warn(`--pack-keyring: ${src} holds no pack; nothing to verify`);
    const repos = [...srv.catalog.repos.entries()].sort(([a], [b]) => a.localeCompare(b));
    const tags = repos.reduce((n, [, t]) => n + t.size, 0);
    printData(versioned("ServeInfo", { url: srv.url, host: srv.host, listen: srv.listen, exposed: srv.exposed, urls: srv.urls, auth: srv.auth, tls: srv.tls, trust: srv.trust, repositories: repos.map(([name, t]) => ({ name, tags: [...t.keys()].sort() })) }), args.output as string | undefined, () => table(["repository", "tags"], repos.map(([name, t]) => [`${srv.host}/${name}`, [...t.keys()].sort().join(", ")])));
    // the truth about where it listens: every interface is said so, with the addresses others reach it at
    const where = srv.urls.length ? `${srv.url.replace(srv.host, srv.listen)} (read-only) on every interface: ${[...srv.urls, srv.url].join(", ")}` : `${srv.url} (read-only)`;
    const guard = `${srv.auth === "htpasswd" ? "Basic auth (htpasswd)" : "no authentication"}, ${srv.tls ? "TLS" : "plain HTTP"}`;
    log.info(`serving ${src} at ${where}: ${repos.length} repositories, ${tags} tags; ${guard}; Ctrl-C (or SIGTERM/SIGHUP) to stop`);
    if (srv.exposed && srv.auth === "none") log.warn(`${srv.listen} is reachable from other machines and serves everything in ${src} to anyone, with no authentication: add --htpasswd FILE and --tls-cert/--tls-key, or listen on loopback only (--address 127.0.0.1:PORT)`);
    else if (srv.exposed && !srv.tls) log.warn(`${srv.listen} is reachable from other machines and --htpasswd credentials travel in clear text over plain HTTP: add --tls-cert/--tls-key`);
    // SIGINT/SIGTERM/SIGHUP: the entry's handler removes the decompressed copy and exits (130/143/129)
    await new Promise<void>(() => {});
  },
});
