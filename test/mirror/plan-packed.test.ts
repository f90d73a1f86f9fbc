// A packed chart in a plan (issue 26.3): read once, unpacked only when its discovery is not cached. The artifact a
// plan pushes must be byte for byte the one built from the archive by the streaming readers (chartArtifactSpec
// without what was read already), a cache hit must still give --values-out the chart's files, and an archive with a
// path escaping its folder is refused as before, unpacked or not.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HELM3, makeChart } from "../support/helm.ts";
import { buildPlan, chartArtifactSpec, type MirrorInput } from "../../plugins/kubectl-mirror/lib/plan/plan.ts";
import { valuesOutForPlan } from "../../plugins/kubectl-mirror/lib/transfer/sync.ts";
import { loadChart } from "../../shared/helm/chart-source.ts";
import { pushArtifactTo } from "../../shared/oci/artifact.ts";
import { OciLayoutStore } from "../../shared/oci/layout.ts";
import { rawHeader } from "../support/tar-fixtures.ts";

let tmp: string;
let tgz: string;
const saved = { cache: process.env.KUBE_AIRGAP_CACHE_DIR, off: process.env.KUBE_AIRGAP_NO_CACHE };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ka-plan-packed-"));
  tgz = await makeChart(tmp, {
    name: "packed",
    version: "1.2.0",
    values: { image: { registry: "docker.io", repository: "library/nginx", tag: "1.27.0" } },
    templates: {
      "deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: \"{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n",
    },
  });
  process.env.KUBE_AIRGAP_CACHE_DIR = join(tmp, "cache");
  delete process.env.KUBE_AIRGAP_NO_CACHE;
});

afterAll(() => {
  for (const [k, v] of [["KUBE_AIRGAP_CACHE_DIR", saved.cache], ["KUBE_AIRGAP_NO_CACHE", saved.off]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(tmp, { recursive: true, force: true });
});

const input = (): MirrorInput => ({ charts: [{ request: { chart: tgz }, discover: { helm: HELM3 } }], images: [] });

describe("a packed chart in a plan", () => {
  test("cache miss then hit: the same artifact as the streaming readers build, the chart unpacked only on the miss", async () => {
    const layout = await OciLayoutStore.create(join(tmp, "ref-layout"));
    const reference = await pushArtifactTo(layout, ["ref:1"], await chartArtifactSpec(tgz));
    for (const round of ["miss", "hit"]) {
      const plan = await buildPlan(input(), { requireRender: true });
      try {
        const a = plan.artifacts[0]!;
        expect(a.digest).toBe(reference.digest);
        expect(plan.images).toEqual(["docker.io/library/nginx:1.27.0"]);
        const dir = a.discovery!.options.chartDir;
        expect(existsSync(join(dir, "Chart.yaml"))).toBe(round === "miss");
        await plan.chartDirs!();
        expect(existsSync(join(dir, "templates", "deploy.yaml"))).toBe(true);
      } finally {
        await plan.cleanup();
      }
    }
  });

  test("--values-out on a cached discovery reads the chart's files and checks them with helm", async () => {
    const plan = await buildPlan(input(), { requireRender: true });
    try {
      const out = join(tmp, "values.yaml");
      const r = await valuesOutForPlan(plan, out, [{ source: "docker.io/library/nginx:1.27.0", destination: "mirror.local/images/library/nginx:1.27.0" }], "mirror.local");
      expect(r?.[0]?.error).toBeUndefined();
      expect(r?.[0]?.check).toBe("rendered");
      expect(existsSync(out)).toBe(true);
    } finally {
      await plan.cleanup();
    }
  });

  test("an archive with a path escaping its folder is refused before anything is unpacked", async () => {
    const bad = join(tmp, "evil-1.0.0.tgz");
    const file = (name: string, text: string) => {
      const d = Buffer.from(text);
      return [rawHeader(name, d.length, "0"), d, Buffer.alloc((512 - (d.length % 512)) % 512)];
    };
    writeFileSync(bad, gzipSync(Buffer.concat([...file("evil/Chart.yaml", "apiVersion: v2\nname: evil\nversion: 1.0.0\n"), ...file("evil/../../escaped.txt", "x"), Buffer.alloc(1024)])));
    for (const unpack of [true, false]) await expect(loadChart({ chart: bad }, { unpack })).rejects.toThrow(/unsafe path/);
    expect(existsSync(join(tmp, "escaped.txt"))).toBe(false);
  });
});
