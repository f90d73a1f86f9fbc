// kubectl scar status [--palette URL] [--registry HOST] [-o json]
import { defineCommand } from "citty";
import { outputArgs } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { createClient } from "../../../shared/oci/client.ts";
import { clusterArgs, kubeFromArgs, paletteArgs, paletteFromArgs, paletteUrl, registryFromArgs, stateArgs, stateFromArgs, targetArgs, targetFromArgs, timeoutArgs, SCAR_CREDENTIALS_HELP } from "../lib/args.ts";
import { DEFAULT_TAG } from "../lib/constants.ts";
import { status } from "../lib/status.ts";

export default defineCommand({
  meta: {
    name: "status",
    description: "Show the SCAR endpoint, the tags in the manifest repository, Specman's sync state and the local migration state",
    examples: ["PALETTE_PASSWORD=… kubectl scar status --palette https://palette.example.com --registry harbor.example.com", "kubectl scar status --registry harbor.local --skip-cluster -o json"],
    notes: SCAR_CREDENTIALS_HELP,
  } as any,
  args: {
    ...targetArgs,
    ...paletteArgs,
    ...clusterArgs,
    ...stateArgs,
    ...timeoutArgs,
    "skip-cluster": { type: "boolean", description: "Do not read Specman's logs from the cluster" },
    ...outputArgs,
  },
  async run({ args, rawArgs }) {
    const url = paletteUrl(args, false);
    const palette = url ? paletteFromArgs(args) : undefined;
    const target = targetFromArgs(args, false);
    const client = target ? createClient(await registryFromArgs(args, rawArgs)) : undefined;
    const kube = args["skip-cluster"] ? undefined : kubeFromArgs(args, rawArgs);
    try {
      const s = await status({ palette, client, target: target ?? { registry: "", basePath: "", tag: (args.tag as string) || DEFAULT_TAG }, kube: kube?.kube, namespace: kube?.namespace, state: url ? stateFromArgs(args, url) : undefined });
      printData(versioned("ScarStatus", s), args.output as string | undefined, () => human(s));
      if (s.errors) throw new CliError(`${s.errors} part(s) of the status could not be read (see above)`);
    } finally {
      palette?.close();
    }
  },
});

function human(s: Awaited<ReturnType<typeof status>>): string {
  const out: string[] = [];
  if (s.palette) out.push(`Palette:   ${s.palette.url}`, s.palette.error ? `  error: ${s.palette.error}` : `  SCAR endpoint: ${s.palette.endpoint ?? "(unset)"}${s.palette.migrated ? " (Specman: migrated)" : " (not migrated)"}`);
  if (s.registry) out.push(`Registry:  ${s.registry.repository}`, s.registry.error ? `  error: ${s.registry.error}` : `  tags: ${s.registry.tags?.join(" ") || "(none)"}${s.registry.tagPresent ? `\n  ${s.registry.tag}: ${s.registry.digest}${s.registry.orasShape ? " (ORAS 1.0.0 shape)" : " (NOT ORAS 1.0.0 shaped)"}` : `\n  ${s.registry.tag}: not pushed`}`);
  if (s.specman) {
    if ("pods" in s.specman) {
      out.push(`Specman:   namespace ${s.specman.namespace}${s.specman.pods.length ? "" : " (no specman pods)"}`);
      for (const p of s.specman.pods) out.push(`  ${p.pod}: ${p.persisted ? `persisted ${s.specman.tag}` : p.downloaded ? "downloading" : "not synced"}${p.tags ? ` (tags ${p.tags.join(" ")})` : ""}${p.lastError ? ` last error: ${p.lastError}` : ""}`);
    } else out.push("Specman:", `  error: ${s.specman.error}`);
  }
  if (s.state) out.push(`State:     ${s.state.file}`, s.state.error ? `  error: ${s.state.error}` : s.state.exists ? `  done: ${s.state.done.join(", ") || "nothing"}${s.state.rolledBack ? `\n  rolled back at ${s.state.rolledBack}` : ""}${s.state.previousEndpoint ? `\n  previous endpoint: ${s.state.previousEndpoint}` : ""}${s.state.savedSecret ? `\n  deleted secret kept for rollback: ${s.state.savedSecret}` : ""}` : "  (no migration recorded)", ...(s.state.lock ? [`  locked by ${s.state.lock.holder}${s.state.lock.state === "stale" ? " — stale: that process no longer runs (--break-lock)" : s.state.lock.state === "unknown" ? " — on another host" : " — running"}`] : []));
  if (!out.length) out.push("nothing to show: give --palette and/or --registry");
  return out.join("\n") + "\n";
}
