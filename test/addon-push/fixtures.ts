// Fixture addon and chart directories written into temp dirs.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export function tempDir(prefix = "ka-addon-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeTree(root: string, files: Record<string, string | Uint8Array>): string {
  for (const [rel, content] of Object.entries(files)) {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return root;
}

export const APP_TEMPLATE = `apiVersion: core.oam.dev/v1beta1
kind: Application
metadata:
  name: placeholder
spec:
  components: []
`;

/** A KubeVela addon directory like `vela addon init` makes, plus junk that must not be packaged. */
export function makeAddon(parent: string, name = "fluxcd", opts: { version?: string; extra?: Record<string, string | Uint8Array>; metadata?: string } = {}): string {
  const dir = join(parent, name);
  const version = opts.version ?? "1.2.0";
  writeTree(dir, {
    "metadata.yaml":
      opts.metadata ??
      `name: ${name}
version: ${version}
description: Extended workload to do continuous and progressive delivery
icon: https://raw.githubusercontent.com/fluxcd/flux/master/docs/_files/weave-flux.png
url: https://fluxcd.io
tags:
  - extended_workload
  - gitops
  - only_example
deployTo:
  runtimeCluster: true
dependencies:
  - name: terraform
system:
  vela: ">=1.5.0-beta.3"
  kubernetes: ">=1.19"
invisible: false
`,
    "README.md": `# ${name}\n`,
    "template.cue": `output: {\n  type: "raw"\n}\n`,
    "parameter.cue": `parameter: {\n  clusters?: [...string]\n}\n`,
    "resources/flux.cue": `flux: {}\n`,
    "definitions/helm.cue": `helm: {}\n`,
    "views/flux.cue": `view: {}\n`,
    ...opts.extra,
  });
  return dir;
}

/** A plain Helm chart directory. */
export function makeChart(parent: string, name = "web", version = "0.3.1", extra: Record<string, string> = {}): string {
  const dir = join(parent, name);
  writeTree(dir, {
    "Chart.yaml": `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "2.0"\ndescription: a web app\n# a comment kept as-is\n`,
    "values.yaml": "replicas: 1\n",
    "templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
    "templates/.hidden": "ignored by helm's built-in rule\n",
    "templates/NOTES.txt": "hello\n",
    ...extra,
  });
  return dir;
}
