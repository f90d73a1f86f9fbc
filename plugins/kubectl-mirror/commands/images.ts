// kubectl mirror images CHART — the images a chart uses, deduplicated, with where each came from.
import { defineCommand, type CommandMeta } from "citty";
import { repeated } from "../../../shared/cli/argv.ts";
import { listOutputArgs, CREDENTIALS_HELP } from "../../../shared/cli/args.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { logger } from "../../../shared/cli/logger.ts";
import { printData, versioned } from "../../../shared/cli/output.ts";
import { chartPositional, chartRequestFromArgs, chartSourceArgs, mappingArgs, mappingFromArgs, renderArgs, renderOptionsFromArgs } from "../lib/inputs/chart-args.ts";
import { excludeMatcher, explain, findImage } from "../../../shared/helm/discover.ts";
import { table } from "../../../shared/cli/output.ts";
import { archPlatforms, paletteArgs, paletteContentFromArgs, wantsPalette } from "../lib/inputs/palette.ts";
import { chartImages, imagesTable, summaryLine } from "../lib/plan/images.ts";
import { valuesOutFailure, valuesOutLines } from "../lib/plan/values-out.ts";

export default defineCommand({
  meta: {
    name: "images",
    description: "List the container images a chart uses, with where each was found (render, values, annotations, images.lock, operator env)",
    notes: CREDENTIALS_HELP,
    examples: [
      "kubectl mirror images ./mychart",
      "kubectl mirror images --repo-url https://charts.example.com --chart-url example/app --chart-version 1.2.3",
      "kubectl mirror images oci://registry.example.com/charts/app --chart-version 1.2.3 -o yaml",
      "kubectl mirror images ./app-1.2.3.tgz -f prod-values.yaml --set metrics.enabled=true --kube-version 1.31.0",
      "kubectl mirror images ./mychart --why busybox:1.36",
      "kubectl mirror images ./mychart -o json | jq -r '.images[] | select(.kind == \"possible\") | .image + \"  \" + .why'   # found by the static scan only",
      "kubectl mirror images ./mychart --dest zot.local:30003 --map-out registry-map.yaml",
      "kubectl mirror images ./mychart -f prod.yaml --dest zot.local:30003 --values-out mirror-values.yaml   # helm install … -f prod.yaml -f mirror-values.yaml",
      "kubectl mirror images ./mychart --no-render --exclude-image 'docker.io/bitnami/*' --image quay.io/acme/extra:1.0",
      "PALETTE_API_KEY=… kubectl mirror images --palette-profile ID1,ID2 --project-id P --palette-endpoint https://api.spectrocloud.com   # with profile and pack",
    ],
  } as CommandMeta,
  args: {
    chart: { type: "positional", required: false, description: "Chart folder, .tgz, https://…/chart.tgz, oci://registry/repo/chart, or a chart name with --repo-url", valueHint: "CHART" },
    ...chartSourceArgs,
    ...renderArgs,
    image: { type: "string", description: "Add an image (repeatable; always listed)", valueHint: "IMAGE" },
    "exclude-image": { type: "string", description: "Leave out images matching a reference or glob with * (repeatable)", valueHint: "PATTERN" },
    why: { type: "string", description: "Show where one image was found (manifest, values path, annotation, lock file) and whether it is required (rendered) or only possible (static scan), and why", valueHint: "IMAGE" },
    ...mappingArgs,
    ...paletteArgs,
    ...listOutputArgs,
  },
  async run({ args, rawArgs }) {
    const output = args.output as string | undefined; // json|yaml|name|wide|jsonpath=, checked by the entry
    if (wantsPalette(args)) {
      // images (and charts) the profiles' packs declare, with the profile and pack each came from
      const c = await paletteContentFromArgs(args, rawArgs);
      const log = logger();
      for (const w of c.warnings) log.warn(w);
      archPlatforms(args);
      const excl = repeated(rawArgs, ["exclude-image"]).map((p) => excludeMatcher(p));
      const extra = repeated(rawArgs, ["image"]).map((i) => ({ image: i, from: [{ profile: "--image", profileUid: "", pack: "" }] }));
      const images = [...c.images.filter((i) => !excl.some((m) => m(i.image))), ...extra];
      const data = { profiles: [...new Map(c.packs.map((p) => [p.profile.uid, p.profile])).values()], images, charts: c.charts, packs: c.packs.map((p) => ({ profile: p.profile.uid, name: p.pack.name, tag: p.pack.tag, layer: p.pack.layer, contentTags: p.tagged, images: p.images.length, charts: p.charts.length })) };
      log.info(`${images.length} image(s), ${c.charts.length} chart(s) from ${data.profiles.length} profile(s), ${c.packs.length} pack(s)`);
      const from = (f: { profile: string; pack: string; tag?: string }[]) => f.map((x) => (x.pack ? `${x.profile}/${x.pack}${x.tag ? `:${x.tag}` : ""}` : x.profile)).join(", ");
      printData(versioned("ProfileImagesReport", data), output, () =>
        table(["kind", "reference", "profile/pack"], [...images.map((i) => ["image", i.image, from(i.from)]), ...c.charts.map((ch) => ["chart", `${ch.repo} ${ch.name} ${ch.version}`, from(ch.from)])]),
      );
      return;
    }
    const req = await chartRequestFromArgs(args, rawArgs, chartPositional(args));
    const render = renderOptionsFromArgs(args, rawArgs);
    const mapping = mappingFromArgs(args);
    const report = await chartImages(
      req,
      { ...render, extraImages: repeated(rawArgs, ["image"]), excludeImages: repeated(rawArgs, ["exclude-image"]) },
      { dest: mapping.dest, mode: mapping.mode, prefix: mapping.prefix, registryMapFile: mapping.registryMapFile, mapOut: mapping.mapOut, valuesOut: mapping.valuesOut },
    );
    const log = logger();
    for (const w of report.warnings) log.warn(w);
    if (report.render.rendered) log.info(summaryLine(report));
    else log.warn(summaryLine(report));
    for (const s of report.skipped) log.info(`skipped ${s.what} in ${s.chart}: ${s.reason}`);
    if (mapping.mapOut) log.info(`registry map written to ${mapping.mapOut}`);
    for (const l of valuesOutLines(report.values ?? [])) log.info(l);

    if (typeof args.why === "string" && args.why) {
      const hits = findImage(report, args.why);
      if (!hits.length) {
        const ex = report.excluded.find((e) => findImage({ ...report, images: [{ image: e.image, sources: [] }] }, args.why as string).length);
        throw new CliError(`${args.why}: not among the ${report.images.length} images of ${report.chart.name} ${report.chart.version}`, 1, ex ? `it was excluded by --exclude-image ${ex.pattern}` : report.render.rendered ? undefined : "the chart was not rendered; try with helm available");
      }
      // the image's own kind (required/possible) is its "requirement" here: "kind" names the report
      const explained = hits.map(({ kind, ...rest }) => ({ ...rest, ...(kind ? { requirement: kind } : {}) }));
      printData(explained.length === 1 ? versioned("ImageExplanation", explained[0]!) : versioned("ImageExplanationList", explained), output, () => hits.map(explain).join("\n"), { names: () => hits.map((h) => h.image) });
      return;
    }
    printData(versioned("ImagesReport", report), output, () => imagesTable(report), { names: () => report.images.map((i) => i.image) });
    const vf = valuesOutFailure(report.values);
    if (vf) throw vf;
  },
});
