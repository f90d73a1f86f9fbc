// kubectl violet verify FILE|DIR: check each package's GPG signature (.sig) and/or checksum (.sha256).
import { defineCommand } from "citty";
import { globalArgs, outputArgs } from "../../../shared/cli/args.ts";
import { repeated } from "../../../shared/cli/argv.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { concurrencyArgs, concurrencyOf } from "../lib/args.ts";
import { loadKeys, summaryText, verifyPath } from "../lib/verify.ts";

export default defineCommand({
  meta: {
    name: "verify",
    description: "Verify packages with the GPG signature (.sig) or checksum (.sha256) next to each .tgz",
    examples: ["kubectl violet verify ./packages --keyring alauda-verify-key.pub", "kubectl violet verify topolvm-operator.v2.3.0.tgz", "kubectl violet verify ./packages -o json"],
  } as any,
  args: {
    ...globalArgs,
    path: { type: "positional", description: "A package file or a directory of packages (several: each is verified)", required: true },
    keyring: { type: "string", description: "Public key file(s) trusted for .sig files, armored or binary (repeatable; env VIOLET_KEYRING)", valueHint: "FILE" },
    ...concurrencyArgs,
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const keyrings = repeated(rawArgs, ["keyring"], { split: false });
    if (!keyrings.length && process.env.VIOLET_KEYRING) keyrings.push(process.env.VIOLET_KEYRING);
    const keys = await loadKeys(keyrings);
    // every PATH (`verify *.tgz` gives several), none silently left out
    const paths = (args._ as string[] | undefined)?.length ? (args._ as string[]).map(String) : [String(args.path)];
    const r = await verifyPath(paths, { keys, concurrency: concurrencyOf(args, 2) });
    for (const f of r.failed) logger().error(`${f.file}: ${f.reason}`);
    const { results: _r, ...data } = r;
    printData(versioned("PackageVerifyReport", data), args.output as string | undefined, () => summaryText(r));
    if (r.failed.length) throw new CliError(`${r.failed.length} of ${r.results.length} package(s) failed verification`);
  },
});
