// Issue 20.2: values files that install, on the real corpus charts (../shared/corpus: Bitnami redis, ingress-nginx,
// kube-prometheus-stack) × value sets (defaults, values/<chart>.everything.yaml). For each: `sync --values-out`
// into a TLS + htpasswd destination exits 0, then the oracle is real Helm: `helm template CHART <value set>
// -f mirror-values.yaml` renders only images under the destination, each present there; the same for the chart
// `sync --rewrite-chart` pushed (pulled back with helm); images the values cannot move would be named (exit 3). The values file's header names the install command of the
// layout used, and Bitnami's switch is set with a comment. Fixture: test/support/corpus-world.ts (synthetic images
// under exactly the rendered references, reached through --source-mirror).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { startCorpusWorld, type CorpusCase, type CorpusWorld } from "../support/corpus-world.ts";
import { renderedImages } from "../support/corpus.ts";
import { helm, HELM4 } from "../support/helm.ts";
import { createClient } from "../../shared/oci/client.ts";
import { parseRegistryReference } from "../../shared/oci/reference.ts";
import { RegistryRepository } from "../../shared/oci/registry.ts";

setDefaultTimeout(600_000);

let w: CorpusWorld;

beforeAll(async () => {
  w = await startCorpusWorld();
}, 600_000);

afterAll(async () => {
  await w?.stop();
});

/** Every image is under <dest>/<case>/ and its manifest is in the destination registry. */
async function expectAllMirrored(c: CorpusCase, images: Set<string>): Promise<void> {
  const prefix = `${w.destOf(c)}/`;
  expect([...images].filter((i) => !i.startsWith(prefix))).toEqual([]);
  const client = createClient(w.destRegistry);
  try {
    const missing: string[] = [];
    for (const img of images) {
      const ref = parseRegistryReference(img);
      const repo = RegistryRepository.fromReference(client, { ...ref, tag: undefined, digest: undefined });
      await repo.resolve(ref.digest ?? ref.tag ?? "latest").catch(() => missing.push(img));
    }
    expect(missing).toEqual([]);
  } finally {
    client.transport.close();
  }
}

const valuesFile = (c: CorpusCase) => join(w.tmp, `${c.id}.mirror-values.yaml`);

describe("--values-out on the corpus charts: helm template -f the file renders only mirrored images (20.2)", () => {
  for (const id of ["redis-defaults", "redis-everything", "ingress-nginx-defaults", "ingress-nginx-everything", "kube-prometheus-stack-defaults", "kube-prometheus-stack-everything"]) {
    test(id, async () => {
      const c = w.cases.find((x) => x.id === id)!;
      const file = valuesFile(c);
      // one sync writes both: the values file (for the chart as published) and the rewritten chart
      const r = await w.mirror(["sync", c.chart.tgz, ...c.valueArgs, ...w.sourceArgs(c), ...w.destArgs(c), "--values-out", file, "--rewrite-chart", "-o", "json"]);
      if (r.code !== 0) console.error(r.stderr);
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report.values).toHaveLength(1);
      expect(report.values[0]).toMatchObject({ check: "rendered", notOverridable: [] });
      const text = readFileSync(file, "utf8");
      // the install command of the default nested layout
      expect(text).toContain(`helm install <release> oci://${w.destOf(c)}/charts/${c.chart.name}/${c.chart.name} --version ${c.chart.version} -f <this file>`);
      if (c.chart.name === "redis") {
        expect(parse(text).global.security.allowInsecureImages).toBe(true);
        expect(text).toMatch(/# set by kubectl mirror: Bitnami charts refuse images other than their own[^\n]*\n\s+allowInsecureImages: true/);
        expect(report.values[0].switches).toEqual(["global.security.allowInsecureImages"]);
      }
      // the oracle: real helm with the user's value set and the written file
      const userFiles = c.valueArgs.filter((_, i) => c.valueArgs[i - 1] === "-f");
      const userSets = c.valueArgs.filter((_, i) => c.valueArgs[i - 1] === "--set");
      const after = await renderedImages(c.chart.tgz, { values: [...userFiles, file], set: userSets });
      expect(after.size).toBe(c.truth.length);
      await expectAllMirrored(c, after);

      // --rewrite-chart: the pushed chart renders only mirrored images with the user's values and the file (images
      // the user's own values set need the file), and without the file when the user's values name no image
      expect(report.charts[0]).toMatchObject({ rewritten: true });
      expect(report.charts[0].notRewritten).toBeUndefined();
      const pulled = join(w.tmp, "pulled", c.id);
      mkdirSync(pulled, { recursive: true });
      await helm(["pull", `oci://${w.destOf(c)}/charts/${c.chart.name}/${c.chart.name}`, "--version", c.chart.version, "--ca-file", w.dest.caFile!, "--destination", pulled], { helmBin: HELM4, registryAuths: { [w.dest.host]: { username: w.dest.username, password: w.dest.password } } });
      const tgz = join(pulled, readdirSync(pulled).find((f) => f.endsWith(".tgz"))!);
      await expectAllMirrored(c, await renderedImages(tgz, { values: [...userFiles, file], set: userSets }));
      if (c.valueSet === "defaults") await expectAllMirrored(c, await renderedImages(tgz, { set: userSets }));
    });
  }
});
