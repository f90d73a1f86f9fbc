// A realistic fixture chart for image discovery, written to a temp dir:
//   app 1.2.3 (appVersion 2.4.0)
//     templates: Deployment (initContainers), CronJob, StatefulSet, Pod (ephemeral container + image volume,
//                digest-pinned image), operator Deployment with RELATED_IMAGE_* env (one from values, one
//                literal), a custom resource with a plain `image:` field, a helm test hook Pod
//     Chart.yaml annotations: helm.sh/images (one entry with a false condition), artifacthub.io/images
//     images.lock (Bitnami ImagesLock, with an entry owned by the disabled subchart)
//     values.yaml: every image structure (registry+repository+tag with tag from appVersion, image: ref,
//                  repository+tag, repository+digest, RELATED_IMAGE env list)
//     charts/redis   (enabled by condition redis.enabled)  — directory subchart with an `images` annotation
//     charts/metrics (disabled by condition metrics.enabled) — packed .tgz subchart
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export const HELM3 = join(import.meta.dir, "../../.tools/helm3/helm");
export const HELM4 = join(import.meta.dir, "../../.tools/helm4/helm");

export const PINNED_DIGEST = "sha256:" + "a1".repeat(32);

function write(root: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text.replace(/^\n/, ""));
  }
}

const APP: Record<string, string> = {
  "Chart.yaml": `
apiVersion: v2
name: app
description: fixture chart for image discovery
version: 1.2.3
appVersion: "2.4.0"
annotations:
  helm.sh/images: |
    - name: extra-tool
      image: ghcr.io/acme/extra-tool:1.0
    - name: gpu-plugin
      image: nvcr.io/nvidia/gpu-plugin:3.1
      condition: gpu.enabled
  artifacthub.io/images: |
    - name: app
      image: registry.example.com/acme/app:2.4.0
dependencies:
  - name: redis
    version: 0.1.0
    condition: redis.enabled
  - name: metrics
    version: 0.2.0
    condition: metrics.enabled
`,
  "values.yaml": `
image:
  registry: registry.example.com
  repository: acme/app
  tag: ""
  pullPolicy: IfNotPresent
init:
  image: busybox:1.36
worker:
  image:
    repository: quay.io/acme/worker
    tag: "1.10"
pinned:
  image:
    repository: ghcr.io/acme/pinned
    digest: ${PINNED_DIGEST}
job:
  image:
    repository: alpine
    tag: "3.20"
operator:
  image: quay.io/acme/operator:0.9.0
  env:
    - name: RELATED_IMAGE_AGENT
      value: quay.io/acme/agent:0.9.0
gpu:
  enabled: false
redis:
  enabled: true
  image:
    tag: 7.2.5
metrics:
  enabled: false
`,
  "images.lock": `
apiVersion: v0
kind: ImagesLock
metadata:
  generatedAt: "2024-01-01T00:00:00Z"
  generatedBy: Distribution Tooling for Helm
chart:
  name: app
  version: 1.2.3
  appVersion: 2.4.0
images:
  - name: os-shell
    image: docker.io/bitnami/os-shell:12-debian-12-r1
    chart: app
    digests:
      - digest: sha256:${"b2".repeat(32)}
        arch: linux/amd64
  - name: node-exporter
    image: quay.io/prometheus/node-exporter:v1.8.0
    chart: metrics
`,
  "templates/_helpers.tpl": `
{{- define "app.image" -}}
{{- printf "%s/%s:%s" .Values.image.registry .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
`,
  "templates/deployment.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      initContainers:
        - name: init
          image: {{ .Values.init.image | quote }}
      containers:
        - name: app
          image: {{ include "app.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
`,
  "templates/cronjob.yaml": `
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}-cleanup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: cleanup
              image: "{{ .Values.job.image.repository }}:{{ .Values.job.image.tag }}"
`,
  "templates/statefulset.yaml": `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-worker
spec:
  serviceName: worker
  selector:
    matchLabels: {app: worker}
  template:
    metadata:
      labels: {app: worker}
    spec:
      containers:
        - name: worker
          image: "{{ .Values.worker.image.repository }}:{{ .Values.worker.image.tag }}"
`,
  "templates/pod.yaml": `
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-pinned
spec:
  containers:
    - name: pinned
      image: "{{ .Values.pinned.image.repository }}@{{ .Values.pinned.image.digest }}"
      volumeMounts:
        - name: data
          mountPath: /data
  ephemeralContainers:
    - name: debugger
      image: quay.io/acme/debug:1.0
  volumes:
    - name: data
      image:
        reference: quay.io/acme/data:1.0
        pullPolicy: IfNotPresent
`,
  "templates/operator.yaml": `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-operator
spec:
  selector:
    matchLabels: {app: operator}
  template:
    metadata:
      labels: {app: operator}
    spec:
      containers:
        - name: manager
          image: {{ .Values.operator.image }}
          env:
            {{- toYaml .Values.operator.env | nindent 12 }}
            - name: RELATED_IMAGE_DB
              value: quay.io/acme/db:15.4
            - name: WATCH_NAMESPACE
              value: ""
`,
  "templates/prometheus.yaml": `
apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: {{ .Release.Name }}-prometheus
spec:
  image: quay.io/prometheus/prometheus:v2.53.0
  replicas: 1
`,
  "templates/tests/test-connection.yaml": `
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    "helm.sh/hook": test
spec:
  restartPolicy: Never
  containers:
    - name: wget
      image: docker.io/library/busybox:1.37
      command: ["wget", "{{ .Release.Name }}-app:80"]
`,
};

const REDIS: Record<string, string> = {
  "Chart.yaml": `
apiVersion: v2
name: redis
version: 0.1.0
appVersion: "7.2.4"
annotations:
  images: |
    - name: redis-exporter
      image: docker.io/bitnami/redis-exporter:1.58.0
`,
  "values.yaml": `
image:
  registry: docker.io
  repository: bitnami/redis
  tag: 7.2.4
`,
  "templates/statefulset.yaml": `
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-redis
spec:
  serviceName: redis
  selector:
    matchLabels: {app: redis}
  template:
    metadata:
      labels: {app: redis}
    spec:
      containers:
        - name: redis
          image: "{{ .Values.image.registry }}/{{ .Values.image.repository }}:{{ .Values.image.tag }}"
`,
};

const METRICS: Record<string, string> = {
  "Chart.yaml": `
apiVersion: v2
name: metrics
version: 0.2.0
appVersion: "1.8.0"
annotations:
  helm.sh/images: |
    - image: quay.io/prometheus/node-exporter:v1.8.0
`,
  "values.yaml": `
image:
  repository: quay.io/prometheus/node-exporter
`,
  "templates/daemonset.yaml": `
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ .Release.Name }}-node-exporter
spec:
  selector:
    matchLabels: {app: node-exporter}
  template:
    metadata:
      labels: {app: node-exporter}
    spec:
      containers:
        - name: node-exporter
          image: "{{ .Values.image.repository }}:v{{ .Chart.AppVersion }}"
`,
};

export interface Fixture {
  root: string;
  /** the chart folder */
  dir: string;
  /** `helm package` output: app-1.2.3.tgz */
  tgz: string;
  cleanup(): void;
}

/** Write the fixture chart; the metrics subchart is packed as charts/metrics-0.2.0.tgz with real helm. */
export function makeFixture(helm = HELM3): Fixture {
  const root = mkdtempSync(join(tmpdir(), "ka-mirror-fixture-"));
  const dir = join(root, "app");
  write(dir, APP);
  write(join(dir, "charts/redis"), REDIS);
  const metricsSrc = join(root, "src/metrics");
  write(metricsSrc, METRICS);
  execFileSync(helm, ["package", metricsSrc, "--destination", join(dir, "charts")], { stdio: "pipe" });
  const out = join(root, "dist");
  mkdirSync(out);
  execFileSync(helm, ["package", dir, "--destination", out], { stdio: "pipe" });
  return { root, dir, tgz: join(out, "app-1.2.3.tgz"), cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** The images helm renders plus every static source finds, for the default values. */
export const EXPECTED_RENDERED = [
  "docker.io/bitnami/os-shell:12-debian-12-r1", // images.lock
  "docker.io/bitnami/redis-exporter:1.58.0", // redis annotation `images`
  "docker.io/bitnami/redis:7.2.5", // redis subchart, tag overridden by the parent
  "docker.io/library/alpine:3.20", // CronJob
  "docker.io/library/busybox:1.36", // initContainer
  "docker.io/library/busybox:1.37", // helm test hook
  `ghcr.io/acme/pinned@${PINNED_DIGEST}`, // Pod, digest
  "ghcr.io/acme/extra-tool:1.0", // helm.sh/images annotation
  "quay.io/acme/agent:0.9.0", // RELATED_IMAGE_AGENT (values → env)
  "quay.io/acme/data:1.0", // image volume
  "quay.io/acme/db:15.4", // RELATED_IMAGE_DB literal in the template
  "quay.io/acme/debug:1.0", // ephemeral container
  "quay.io/acme/operator:0.9.0", // operator
  "quay.io/acme/worker:1.10", // StatefulSet
  "quay.io/prometheus/prometheus:v2.53.0", // custom resource, image: scan only
  "registry.example.com/acme/app:2.4.0", // Deployment, tag from appVersion
].sort();

/** Without helm: the image volume (`reference:`) is only seen by a render. */
export const EXPECTED_STATIC = EXPECTED_RENDERED.filter((i) => i !== "quay.io/acme/data:1.0");
