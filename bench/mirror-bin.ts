// The kubectl-mirror command line the benchmarks run: the compiled binary for this machine (what krew users
// run; built once into a temp dir), or the sources under bun with --from-source.
import { join } from "node:path";
import { buildPlugin, hostTarget } from "../scripts/build.ts";

export async function mirrorCommand(tmp: string): Promise<string[]> {
  const root = join(import.meta.dir, "..");
  if (process.argv.includes("--from-source")) return [join(root, "node_modules/.bin/bun"), join(root, "plugins/kubectl-mirror/main.ts")];
  console.error("compiling kubectl-mirror for this machine (use --from-source to run the sources with bun)");
  const built = await buildPlugin({ plugin: "kubectl-mirror", target: hostTarget(), outDir: join(tmp, "bin") });
  return [built.file];
}

/** `--serve` modes: say the registries are up and wait for Ctrl-C or SIGTERM. */
export function untilStopped(): Promise<void> {
  console.log("registries up; Ctrl-C (or SIGTERM) to stop");
  return new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}
