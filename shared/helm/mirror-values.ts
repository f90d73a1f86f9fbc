// A Helm values override that points every image a chart takes from its values at the mirror, so that
// `helm install/template -f mirror-values.yaml` renders mirrored images without changing the chart:
//   plain references       image: quay.io/a/b:1                   → image: mirror/images/a/b:1
//   repository (+tag)      {repository: quay.io/a/b, tag: 1}      → repository: mirror/images/a/b
//   registry + repository  {registry: docker.io, repository: bitnami/redis, tag/digest}
//                                                                 → registry: mirror, repository: images/bitnami/redis
//   global.imageRegistry   (Bitnami charts: wins over every image's registry) → global.imageRegistry: mirror
//   lists                  (env RELATED_IMAGE_*, extra containers) → the whole list, with the entries rewritten
// Tags and digests are left as they are (the mirror keeps both). Subchart images are written under the subchart
// key, exactly where a user would set them. Images that do not come from values (written into templates, or
// listed only in annotations / images.lock) are reported: only --rewrite-chart changes those.
// Charts that refuse substituted images unless a switch is on (Bitnami: global.security.allowInsecureImages) get
// the switch, with a comment saying why (SUBSTITUTION_SWITCHES).
import { Document, isMap as isYamlMap, isScalar } from "yaml";
import { parseImage, repositoryOf } from "./image-ref.ts";
import type { DiscoveredImage, DiscoveryResult, ImageSource, ValueSite } from "./discover.ts";
import { getPath, isMap, type Values } from "./values.ts";

/** A value a chart needs before it renders images other than its own. */
export interface ValuesSwitch {
  path: string[];
  value: unknown;
  /** why it is set: the comment above it in the values file */
  why: string;
}

/** Switches known to gate substituted images; the override sets one only where the chart declares it. */
export const SUBSTITUTION_SWITCHES: ValuesSwitch[] = [
  {
    path: ["global", "security", "allowInsecureImages"],
    value: true,
    why: "set by kubectl mirror: Bitnami charts refuse images other than their own (the mirrored ones) unless this is true (bitnami/charts#30850)",
  },
];

/** The SUBSTITUTION_SWITCHES declared (as a boolean) in any of these values: the effective values of a chart and its enabled subcharts. */
export function declaredSwitches(valueMaps: Values[]): ValuesSwitch[] {
  return SUBSTITUTION_SWITCHES.filter((sw) => valueMaps.some((v) => typeof getPath(v, sw.path.join(".")) === "boolean"));
}

export interface NotOverridable {
  image: string;
  destination?: string;
  reason: string;
  /** where the image comes from: "template app/templates/x.yaml", "manifest Deployment/x", … */
  from: string[];
}

export interface MirrorValues {
  /** the override (top chart values; subcharts under their keys) */
  values: Values;
  /** images the override points at the mirror, with the values paths it sets */
  overridden: { image: string; destination: string; paths: string[] }[];
  notOverridable: NotOverridable[];
  /** after a check render: mirrored images the chart does not render with these values (nothing to override) */
  unused?: NotOverridable[];
  /** switches set so the chart accepts the mirrored images */
  switches?: ValuesSwitch[];
}

function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i ? "." : ""}${/[.[\]\s]/.test(p) ? `"${p}"` : p}`)).join("");
}

function fromText(s: ImageSource): string {
  switch (s.type) {
    case "manifest":
    case "manifest-scan":
      return `${s.file ? `${s.file} ` : ""}${s.resource ?? ""}`.trim();
    case "template-literal":
      return `${s.file}${s.note ? ` ${s.note}` : ""}`;
    case "env":
      return s.file ? `${s.file} ${s.key}` : `values ${s.path}`;
    case "annotation":
      return `Chart.yaml annotation ${s.key}${s.chart?.includes("/") ? ` (${s.chart})` : ""}`;
    case "images-lock":
      return `${s.file}`;
    case "values":
      return `values ${s.path}`;
    case "user":
      return "--image";
  }
}

function reasonFor(img: DiscoveredImage): string {
  const types = new Set(img.sources.map((s) => s.type));
  if (types.has("manifest") || types.has("manifest-scan") || types.has("template-literal") || (types.has("env") && img.sources.some((s) => s.type === "env" && s.file))) {
    return "written into the chart's templates, not taken from values: use --rewrite-chart";
  }
  if (types.has("user")) return "added with --image, not used by the chart";
  return "listed in the chart's metadata only (annotation / images.lock), not set through values; if the chart uses it, use --rewrite-chart";
}

/** Put `value` at `path` in `target`, copying a list whole (from the site's effective list) the first time. */
function setAt(target: Values, site: ValueSite, sub: string[], value: string): void {
  const path = [...site.path, ...sub];
  let cur: any = target;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    if (site.list && i + 1 === site.list.at) {
      // the list lives at path[0..at): carry it whole
      if (!Array.isArray(cur[k])) cur[k] = structuredClone(site.list.value);
    } else if (cur[k] === undefined || cur[k] === null || typeof cur[k] !== "object") {
      cur[k] = typeof path[i + 1] === "number" ? [] : {};
    }
    cur = cur[k];
  }
  cur[path[path.length - 1]!] = value;
}

/**
 * Build the override from a discovery result and the mirror's destination of each image (normalised source →
 * destination reference). Images without a destination are ignored (excluded, or not mirrored).
 */
export function mirrorValues(result: Pick<DiscoveryResult, "images" | "valueSites">, destinations: Map<string, string>, opts: { switches?: ValuesSwitch[] } = {}): MirrorValues {
  const values: Values = {};
  const paths = new Map<string, string[]>();
  const blocked = new Map<string, string>();
  // global.imageRegistry: one registry for every image of the charts that use it (below)
  // a repository-level site (repository / registry+repository) moves every tag of its repository: when the site's
  // own reference is not mirrored (a tag the static scan guessed; the templates render another), the mirrored
  // image of the same source repository gives the destination
  const repoDest = new Map<string, string>();
  for (const [src, dst] of destinations) repoDest.set(repositoryOf(parseImage(src)), repositoryOf(parseImage(dst)));
  const siteDest = (site: ValueSite) => destinations.get(site.image) ?? (site.form === "string" ? undefined : repoDest.get(repositoryOf(parseImage(site.image))));
  const globalSites = (result.valueSites ?? []).filter((s) => s.globalRegistry && siteDest(s));
  const globalHosts = new Map<string, number>();
  for (const s of globalSites) {
    const h = parseImage(siteDest(s)!).registry;
    globalHosts.set(h, (globalHosts.get(h) ?? 0) + 1);
  }
  const globalHost = [...globalHosts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  if (globalHost) {
    values.global = { imageRegistry: globalHost };
  }
  for (const site of result.valueSites ?? []) {
    const dest = siteDest(site);
    if (!dest) continue;
    const ref = parseImage(dest);
    const at = pathText(site.path);
    switch (site.form) {
      case "string":
        setAt(values, site, [], dest);
        break;
      case "repository":
        setAt(values, site, ["repository"], repositoryOf(ref));
        break;
      case "registry":
        if (site.globalRegistry && ref.registry !== globalHost) {
          blocked.set(site.image, `global.imageRegistry sets one registry for every image, and this one is mirrored to ${ref.registry}, not ${globalHost}`);
          continue;
        }
        setAt(values, site, ["registry"], ref.registry);
        setAt(values, site, ["repository"], ref.repository);
        break;
      case "image":
        // {registry?, image, tag, digest}: `image` is the path below the registry; with no registry anywhere
        // (bareImage) the template renders `image` as the whole repository
        if (site.bareImage) setAt(values, site, ["image"], repositoryOf(ref));
        else {
          setAt(values, site, ["registry"], ref.registry);
          setAt(values, site, ["image"], ref.repository);
        }
        break;
    }
    const list = paths.get(site.image) ?? [];
    list.push(site.form === "string" ? at : `${at}.${site.form === "registry" ? "registry+repository" : site.form === "image" ? "registry+image" : "repository"}`);
    paths.set(site.image, list);
  }
  // a repository-level override (repository / registry+repository) also moves other tags or digests of that
  // repository the templates render (e.g. a values tag+digest rendered as @digest only)
  const byRepo = new Map<string, string[]>();
  for (const site of result.valueSites ?? []) {
    if (site.form === "string" || !paths.has(site.image)) continue;
    const repo = repositoryOf(parseImage(site.image));
    byRepo.set(repo, [...(byRepo.get(repo) ?? []), ...paths.get(site.image)!]);
  }
  const overridden: MirrorValues["overridden"] = [];
  const notOverridable: NotOverridable[] = [];
  for (const img of result.images) {
    const dest = destinations.get(img.image);
    if (!dest) continue;
    const p = paths.get(img.image) ?? (blocked.has(img.image) ? undefined : byRepo.get(repositoryOf(parseImage(img.image))));
    if (p?.length) overridden.push({ image: img.image, destination: dest, paths: p });
    else {
      notOverridable.push({ image: img.image, destination: dest, reason: blocked.get(img.image) ?? reasonFor(img), from: [...new Set(img.sources.filter((s) => s.type !== "values").map(fromText))] });
    }
  }
  const switches = overridden.length ? (opts.switches ?? []) : [];
  for (const sw of switches) {
    let cur: Values = values;
    for (const k of sw.path.slice(0, -1)) cur = (isMap(cur[k]) ? cur[k] : (cur[k] = {})) as Values;
    cur[sw.path[sw.path.length - 1]!] = sw.value;
  }
  return { values, overridden, notOverridable, ...(switches.length ? { switches } : {}) };
}

/**
 * Move images the check render still shows from their source into notOverridable (the values do not reach
 * them: a template hard-codes them next to the values-driven one, or builds them some other way).
 * `rendered` are the images of `helm template -f <override>`; `mirrored` the destination references.
 */
export function applyRenderCheck(mv: MirrorValues, rendered: DiscoveredImage[], mirrored: Set<string>): void {
  for (const r of rendered) {
    if (mirrored.has(r.image)) continue;
    const from = [...new Set(r.sources.map(fromText))];
    const i = mv.overridden.findIndex((o) => o.image === r.image);
    const dest = i >= 0 ? mv.overridden[i]!.destination : undefined;
    if (i >= 0) mv.overridden.splice(i, 1);
    const known = mv.notOverridable.find((n) => n.image === r.image);
    if (known) {
      known.from = [...new Set([...known.from, ...from])];
      continue;
    }
    mv.notOverridable.push({ image: r.image, ...(dest ? { destination: dest } : {}), reason: "still rendered from its source with these values (a template does not take it from values): use --rewrite-chart", from });
  }
  const renderedSet = new Set(rendered.map((r) => r.image));
  // rendered at the mirror although no values path was found for it (e.g. a digest-only form of a values image)
  for (const n of mv.notOverridable.filter((x) => !renderedSet.has(x.image) && x.destination && renderedSet.has(x.destination))) {
    mv.overridden.push({ image: n.image, destination: n.destination!, paths: [] });
  }
  mv.notOverridable = mv.notOverridable.filter((n) => !(n.destination && renderedSet.has(n.destination) && !renderedSet.has(n.image)));
  mv.overridden.sort((a, b) => a.image.localeCompare(b.image));
  mv.unused = mv.notOverridable.filter((n) => !renderedSet.has(n.image));
  mv.notOverridable = mv.notOverridable.filter((n) => renderedSet.has(n.image)).sort((a, b) => a.image.localeCompare(b.image));
}

/** The values file: a header saying what it is and what it cannot do, then the YAML. */
export function formatMirrorValues(mv: MirrorValues, about: { chart: string; version: string; dest: string; check?: string; chartRef?: string }): string {
  // where sync pushes the chart: <dest>/charts/<name>/<name> (the default nested layout) unless told otherwise
  const chartRef = (about.chartRef ?? `${about.dest}/charts/${about.chart}/${about.chart}`).replace(/^oci:\/\//, "");
  const lines = [
    `# Helm values written by kubectl mirror for chart ${about.chart} ${about.version}: every image the chart takes`,
    `# from its values points at ${about.dest}. Use it with the mirrored chart, e.g.`,
    `#   helm install <release> oci://${chartRef} --version ${about.version} -f <this file>`,
    `# ${mv.overridden.length} image(s) overridden.${about.check ? ` ${about.check}` : ""}`,
  ];
  if (mv.switches?.length) lines.push(`# The chart refuses substituted images unless told otherwise: ${mv.switches.map((s) => `${s.path.join(".")}: ${JSON.stringify(s.value)}`).join(", ")} is set (see below).`);
  if (mv.notOverridable.length) {
    lines.push(`# ${mv.notOverridable.length} image(s) NOT overridable through values (use --rewrite-chart, which rewrites the chart itself):`);
    for (const n of mv.notOverridable) lines.push(`#   ${n.image}  ${n.reason.replace(/: use --rewrite-chart$/, "")}${n.from.length ? ` [${n.from.join("; ")}]` : ""}`);
  }
  if (mv.unused?.length) {
    lines.push(`# ${mv.unused.length} mirrored image(s) the chart does not render with these values (nothing to override):`);
    for (const n of mv.unused) lines.push(`#   ${n.image}${n.from.length ? ` [${n.from.join("; ")}]` : ""}`);
  }
  const doc = new Document(mv.values);
  for (const sw of mv.switches ?? []) {
    const parent = doc.getIn(sw.path.slice(0, -1));
    const pair = isYamlMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === sw.path[sw.path.length - 1]) : undefined;
    if (pair && isScalar(pair.key)) pair.key.commentBefore = ` ${sw.why}`;
  }
  const body = Object.keys(mv.values).length ? doc.toString({ lineWidth: 0 }) : "{}\n";
  return `${lines.join("\n")}\n${body}`;
}
