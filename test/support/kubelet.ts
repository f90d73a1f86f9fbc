// A test "kubelet + Job controller" for the fake apiserver: runs the pods of batch/v1 Jobs as local processes.
//
//   const kubelet = startFakeKubelet(api, { binary: "/tmp/bin/kubectl-mirror", fault: (index, attempt) => … });
//   … kubelet.runs   [{ job, index, attempt, pod, code, output }]
//   await kubelet.stop()
//
// For every Job that is not suspended and not finished it creates Pod objects (labels job-name,
// batch.kubernetes.io/job-completion-index, ownerReferences to the Job), up to `parallelism` at once, one per
// pending index; a pod runs the container's command with `binary` standing in for command[0], the env of the
// container plus JOB_COMPLETION_INDEX, and its ConfigMap/Secret/emptyDir volumes written as files into a temp
// folder (mount paths in args and env are rewritten to it). stdout+stderr become the pod's log. Job status
// follows kube's Job controller: active/succeeded/failed, completedIndexes/failedIndexes ("0,2-3"), a failed
// index retried up to backoffLimitPerIndex (else up to backoffLimit failures for the Job), then the Complete or
// Failed condition. Faults: "crash" (the pod fails without running, like a lost node) or "bad-auth" (the pod runs
// with every password in its mounted config.json replaced).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeApiServer } from "./kube-apiserver.ts";

type Obj = Record<string, any>;
export type Fault = "crash" | "bad-auth" | undefined;

export interface KubeletRun {
  job: string;
  index: number;
  attempt: number;
  pod: string;
  code?: number;
  output: string;
  /** the plan/config files the pod saw (path in the pod → content) */
  files: Record<string, string>;
}

export interface FakeKubeletOptions {
  binary: string;
  env?: Record<string, string>;
  fault?: (index: number, attempt: number) => Fault;
  intervalMs?: number;
}

export interface FakeKubelet {
  runs: KubeletRun[];
  stop(): Promise<void>;
}

interface JobState {
  attempts: Map<number, number>;
  running: Map<number, ChildProcess | undefined>;
  done: Set<number>;
  failed: Set<number>;
  failures: number;
}

export function indexRanges(xs: Iterable<number>): string {
  const s = [...xs].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(",");
}

export function startFakeKubelet(api: FakeApiServer, o: FakeKubeletOptions): FakeKubelet {
  const state = new Map<string, JobState>();
  const runs: KubeletRun[] = [];
  const dirs: string[] = [];
  let stopped = false;

  function setStatus(job: Obj, st: JobState): void {
    const cur = api.get("batch/v1", "Job", job.metadata.name, job.metadata.namespace);
    if (!cur || cur.metadata.uid !== job.metadata.uid) return;
    const s = cur.spec;
    const perIndex = s.backoffLimitPerIndex !== undefined;
    const status: Obj = { ...(cur.status ?? {}), active: st.running.size, succeeded: st.done.size, failed: st.failures, ready: st.running.size };
    if (s.completionMode === "Indexed") status.completedIndexes = indexRanges(st.done);
    if (perIndex) status.failedIndexes = indexRanges(st.failed);
    status.startTime ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const conditions: Obj[] = [];
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    if (st.running.size === 0) {
      if (st.done.size >= s.completions) conditions.push({ type: "SuccessCriteriaMet", status: "True", lastTransitionTime: now }, { type: "Complete", status: "True", lastTransitionTime: now });
      else if (perIndex && st.failed.size && st.done.size + st.failed.size >= s.completions) conditions.push({ type: "FailureTarget", status: "True", reason: "FailedIndexes", lastTransitionTime: now }, { type: "Failed", status: "True", reason: "FailedIndexes", message: "Job has failed indexes", lastTransitionTime: now });
      else if (!perIndex && st.failures > s.backoffLimit) conditions.push({ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", lastTransitionTime: now });
    }
    if (conditions.length) {
      status.conditions = conditions;
      status.completionTime = now;
    }
    api.put({ ...cur, status });
  }

  function startPod(job: Obj, st: JobState, index: number): void {
    const ns = job.metadata.namespace;
    const attempt = st.attempts.get(index) ?? 0;
    st.attempts.set(index, attempt + 1);
    const pod = `${job.metadata.name}-${index}-${Math.random().toString(36).slice(2, 7)}`;
    const tpl = job.spec.template;
    const c = tpl.spec.containers[0];
    const labels = { ...(tpl.metadata?.labels ?? {}), "batch.kubernetes.io/job-completion-index": String(index) };
    const created = api.addPod(ns, pod, { [c.name]: "" }, { phase: "Running", labels, image: c.image });
    api.put({
      ...created,
      metadata: { ...created.metadata, annotations: { "batch.kubernetes.io/job-completion-index": String(index) }, ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }] },
      spec: { ...tpl.spec, containers: tpl.spec.containers },
    });
    const run: KubeletRun = { job: job.metadata.name, index, attempt, pod, output: "", files: {} };
    runs.push(run);
    const fault = o.fault?.(index, attempt);
    const finish = (code: number) => {
      run.code = code;
      st.running.delete(index);
      if (api.get("v1", "Pod", pod, ns)) {
        api.appendLog(ns, pod, run.output, c.name);
        const p = api.get("v1", "Pod", pod, ns)!;
        api.put({ ...p, status: { ...p.status, phase: code === 0 ? "Succeeded" : "Failed", containerStatuses: [{ name: c.name, ready: false, state: { terminated: { exitCode: code, reason: code === 0 ? "Completed" : "Error" } } }] } });
      }
      if (code === 0) st.done.add(index);
      else {
        st.failures++;
        const limit = job.spec.backoffLimitPerIndex;
        if (limit !== undefined && (st.attempts.get(index) ?? 0) > limit) st.failed.add(index);
      }
      setStatus(job, st);
    };
    if (fault === "crash") {
      st.running.set(index, undefined);
      setStatus(job, st);
      run.output = "simulated: the node running this pod was lost\n";
      setTimeout(() => finish(137), 50);
      return;
    }
    // volumes as files
    const dir = mkdtempSync(join(tmpdir(), "ka-kubelet-"));
    dirs.push(dir);
    const mounts = new Map<string, string>();
    for (const m of c.volumeMounts ?? []) {
      const v = (tpl.spec.volumes ?? []).find((x: Obj) => x.name === m.name);
      const where = join(dir, m.name);
      mkdirSync(where, { recursive: true });
      mounts.set(m.mountPath, where);
      if (v?.configMap) {
        const cm = api.get("v1", "ConfigMap", v.configMap.name, ns);
        if (!cm) throw new Error(`fake kubelet: pod ${pod}: ConfigMap ${v.configMap.name} not found`);
        for (const [k, val] of Object.entries<string>(cm.data ?? {})) (writeFileSync(join(where, k), val), (run.files[`${m.mountPath}/${k}`] = val));
        for (const [k, val] of Object.entries<string>(cm.binaryData ?? {})) writeFileSync(join(where, k), Buffer.from(val, "base64"));
      } else if (v?.secret) {
        const sec = api.get("v1", "Secret", v.secret.secretName, ns);
        if (!sec) throw new Error(`fake kubelet: pod ${pod}: Secret ${v.secret.secretName} not found`);
        for (const [k, val] of Object.entries<string>(sec.data ?? {})) {
          let text = Buffer.from(val, "base64").toString("utf8");
          if (fault === "bad-auth" && k === "config.json") {
            const cfg = JSON.parse(text);
            for (const a of Object.values<Obj>(cfg.auths ?? {})) if (a.auth) a.auth = Buffer.from(`${Buffer.from(a.auth, "base64").toString().split(":")[0]}:wrong-password`).toString("base64");
            text = JSON.stringify(cfg);
          }
          writeFileSync(join(where, k), text, { mode: 0o400 });
          run.files[`${m.mountPath}/${k}`] = text;
        }
      }
    }
    const mapPath = (s: string) => {
      for (const [mp, local] of mounts) if (s === mp || s.startsWith(`${mp}/`)) return local + s.slice(mp.length);
      return s;
    };
    const argv = [...(c.command ?? []).slice(1), ...(c.args ?? [])].map(mapPath);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, ...(o.env ?? {}) };
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = mapPath(e.value);
    env.JOB_COMPLETION_INDEX = String(index);
    const child = spawn(o.binary, argv, { env, stdio: ["ignore", "pipe", "pipe"] });
    st.running.set(index, child);
    setStatus(job, st);
    child.stdout!.on("data", (d) => (run.output += d));
    child.stderr!.on("data", (d) => (run.output += d));
    child.on("error", (e) => ((run.output += `exec: ${e.message}\n`), finish(127)));
    child.on("close", (code) => finish(code ?? 1));
  }

  const timer = setInterval(() => {
    if (stopped) return;
    for (const job of api.list("batch/v1", "Job")) {
      const uid = job.metadata.uid;
      if (job.spec?.suspend) continue;
      if ((job.status?.conditions ?? []).some((c: Obj) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")) continue;
      let st = state.get(uid);
      if (!st) state.set(uid, (st = { attempts: new Map(), running: new Map(), done: new Set(), failed: new Set(), failures: 0 }));
      const n = job.spec.completions ?? 1;
      const par = job.spec.parallelism ?? 1;
      for (let i = 0; i < n && st.running.size < par; i++) {
        if (st.done.has(i) || st.failed.has(i) || st.running.has(i)) continue;
        if (job.spec.backoffLimitPerIndex === undefined && st.failures > job.spec.backoffLimit) break;
        startPod(job, st, i);
      }
    }
    // pods of deleted Jobs stop
    for (const [uid, st] of state) {
      if (api.list("batch/v1", "Job").some((j) => j.metadata.uid === uid)) continue;
      for (const ch of st.running.values()) ch?.kill("SIGKILL");
      state.delete(uid);
    }
  }, o.intervalMs ?? 100);

  return {
    runs,
    async stop() {
      stopped = true;
      clearInterval(timer);
      for (const st of state.values()) for (const ch of st.running.values()) ch?.kill("SIGKILL");
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
