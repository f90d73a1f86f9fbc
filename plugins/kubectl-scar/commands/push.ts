// kubectl scar push FILE --registry HOST [--base-path P] [--tag T]
import { defineCommand } from "citty";
import { dryRunArgs, outputArgs } from "../../../shared/cli/args.ts";
import { UsageError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { registryFromArgs, targetArgs, targetFromArgs, timeoutArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { pushManifests, type Target } from "../lib/artifact.ts";
import { MANIFEST_REPO } from "../lib/constants.ts";
import { withManifestsArchive } from "../lib/package.ts";

/**
 * `host[:port]/<base>/spectro-manifests/manifest:<tag>` (oras' form) → registry, base path, tag. Undefined when the
 * word is not a reference (a file name); a reference to another repository is refused: Specman reads only this one.
 */
function orasRef(word: string): { registry: string; basePath: string; tag: string } | undefined {
  const w = word.replace(/^oci:\/\//, "");
  const m = /^([^/\s]+)\/([^:@\s]+):([^/:@\s]+)$/.exec(w);
  if (!m || !/[.:]|^localhost$/.test(m[1]!)) return undefined;
  const [, registry, path, tag] = m;
  if (path !== MANIFEST_REPO && !path!.endsWith(`/${MANIFEST_REPO}`)) {
    throw new UsageError(`${word}: Specman reads <base-path>/${MANIFEST_REPO}, not ${path}`, `e.g. ${registry}/spectro-packs/${MANIFEST_REPO}:${tag}`);
  }
  return { registry: registry!, basePath: path!.slice(0, path!.length - MANIFEST_REPO.length).replace(/\/$/, ""), tag: tag! };
}

export default defineCommand({
  meta: {
    name: "push",
    description: "Push manifests.tgz to <registry>/<base-path>/spectro-manifests/manifest:<tag>, shaped like ORAS 1.0.0's `oras push`",
    examples: [
      "kubectl scar push manifests.tgz --registry harbor.example.com --username admin --password-stdin",
      "aws ecr get-login-password | kubectl scar push manifests.tgz --registry 123456789012.dkr.ecr.us-east-1.amazonaws.com --registry-username AWS --password-stdin",
      "kubectl scar push manifests.tgz --registry 127.0.0.1:5000 --plain-http --tag 0.0.0",
      "kubectl scar push /var/www/html --registry harbor.example.com   # a directory is archived like `kubectl scar package` first",
    ],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args: {
    file: { type: "positional", required: false, description: "the manifests.tgz archive, or the manifests directory (archived like `kubectl scar package DIR` first)" },
    ...targetArgs,
    ...timeoutArgs,
    force: { type: "boolean", description: "push even when the tag already holds the same archive" },
    ...dryRunArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    let pos = (args._ as string[]) ?? [];
    let target: Target;
    if (pos.length === 2 && orasRef(pos[0]!)) {
      // the document's `oras push <harbor>/spectro-packs/spectro-manifests/manifest:0.0.0 manifests.tgz`
      const ref = orasRef(pos[0]!)!;
      for (const f of ["registry", "base-path", "tag"]) {
        if (args[f] !== undefined) throw new UsageError(`--${f} cannot be combined with the reference ${pos[0]}`, "give either the reference or --registry/--base-path/--tag");
      }
      target = targetFromArgs({ ...args, registry: ref.registry, "base-path": ref.basePath, tag: ref.tag })!;
      pos = [pos[1]!];
    } else {
      if (pos.length !== 1) throw new UsageError(pos.length ? `expected one file, got ${pos.length}` : "the archive is required", "kubectl scar push FILE --registry HOST (or REGISTRY/BASE/spectro-manifests/manifest:TAG FILE, like oras push)");
      target = targetFromArgs(args)!;
    }
    const registry = await registryFromArgs(args, rawArgs);
    const r = await withManifestsArchive(pos[0]!, (file, pk) => {
      if (pk) logger().info(`archived ${pos[0]} like \`kubectl scar package\` (${pk.files} files, ${pk.size} bytes) to push it as manifests.tgz`);
      for (const l of pk?.outsideLinks ?? []) logger().warn(`symbolic link ${l} points outside ${pos[0]}: stored as a link (like tar), its target is not in the archive`);
      return pushManifests(file, target, { registry, force: !!args.force, dryRun: !!args["dry-run"] });
    });
    if (args["dry-run"]) logger().info(r.digest ? `${r.reference} already holds this archive` : `would push ${pos[0]} (${r.size} bytes, ${r.layerDigest}) to ${r.reference}`);
    else logger().info(r.pushed ? `pushed ${r.reference}` : `${r.reference} already holds this archive; nothing pushed (--force to push anyway)`);
    printData(versioned("ScarPushReport", r), args.output as string | undefined, () => `${r.reference}@${r.digest || "(not pushed)"}\n`);
  },
});
