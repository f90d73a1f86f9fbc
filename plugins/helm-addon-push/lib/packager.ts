// `package` verb: addon/chart dirs → <outDir>/<name>-<version>.tgz (temp file + rename).
import { mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chartFileName } from "../../../shared/helm/chart.ts";
import { prepareChart, type PackageOptions } from "./package.ts";
import { removeOnInterrupt } from "../../../shared/runtime/interrupt.ts";

export interface PackageResult {
  source: string;
  chart?: string;
  version?: string;
  /** absolute path of the archive (would-be path with dry run) */
  file?: string;
  error?: string;
  /** packaged files that are often unintended (see package.ts) */
  warnings?: string[];
}

export class PackageError extends Error {
  override name = "PackageError";
}

export async function packageDirs(dirs: string[], o: PackageOptions & { outDir: string; dryRun?: boolean }): Promise<PackageResult[]> {
  const outDir = resolve(o.outDir);
  const st = await stat(outDir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new PackageError(`output ${outDir} is not a directory`);
  // like `helm package -d DIR`, a missing DIR is created (not by a dry run: its temp work goes to the OS temp dir)
  if (!st && !o.dryRun) {
    try {
      await mkdir(outDir, { recursive: true });
    } catch (err) {
      throw new PackageError(`cannot create output directory ${outDir}: ${(err as Error).message}`);
    }
  }
  const workRoot = st || !o.dryRun ? outDir : tmpdir();
  const results: PackageResult[] = [];
  for (const dir of dirs) {
    const work = await mkdtemp(join(workRoot, ".addon-push-"));
    const unregister = removeOnInterrupt(`packaging ${dir}`, work);
    try {
      if (!(await stat(dir).catch(() => undefined))?.isDirectory()) throw new PackageError(`${dir} is not a directory (package takes addon or chart directories)`);
      const p = await prepareChart(dir, work, o);
      const file = join(outDir, chartFileName(p.metadata));
      if (!o.dryRun) await rename(p.file, file);
      results.push({ source: dir, chart: String(p.metadata.name), version: String(p.metadata.version), file, ...(p.warnings?.length ? { warnings: p.warnings } : {}) });
    } catch (err) {
      results.push({ source: dir, error: (err as Error).message });
    } finally {
      await rm(work, { recursive: true, force: true });
      unregister();
    }
  }
  return results;
}

