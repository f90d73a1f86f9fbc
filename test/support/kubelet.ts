// A test "kubelet + Job controller" for the fake apiserver: runs the pods of batch/v1 Jobs as local processes,
// with a kubelet's file ownership and privileges, so a pod spec that cannot work on a real node fails here too.
//
//   const kubelet = startFakeKubelet(api, { binary: "/tmp/bin/kubectl-mirror", fault: (index, attempt) => … });
//   … kubelet.runs   [{ job, index, attempt, pod, code, output, uid, gid, groups, files }]
//   await kubelet.stop()
//
// Job controller: for every Job that is not suspended and not finished it creates Pod objects (labels job-name,
// batch.kubernetes.io/job-completion-index, ownerReferences to the Job), up to `parallelism` at once, one per
// pending index. Job status follows kube's Job controller: active/succeeded/failed, completedIndexes/failedIndexes
// ("0,2-3"), a failed index retried up to backoffLimitPerIndex (else up to backoffLimit failures for the Job), then
// the Complete or Failed condition.
//
// Kubelet (written from pkg/volume/secret, pkg/volume/configmap, pkg/volume/emptydir, pkg/volume/util/
// atomic_writer.go and SetVolumeOwnership in pkg/volume/volume_linux.go):
// - Secret/ConfigMap volumes are AtomicWriter folders: the keys (or `items`) as files in `..<timestamp>/` (0755),
//   a `..data` symlink to it and one `key -> ..data/key` symlink per key; each file has the item's `mode`, else
//   the volume's `defaultMode`, else 0644; everything is owned by root (the kubelet). emptyDir: a 0777 folder.
// - fsGroup (pod securityContext): every volume is chowned to group fsGroup; files get the group read bit
//   (0440 for the read-only Secret/ConfigMap kinds, 0660 for emptyDir) and folders setgid + group r-x.
// - The container runs as runAsUser/runAsGroup (container securityContext over the pod's; default root), with
//   supplementalGroups + fsGroup as its groups, no capabilities and no_new_privs when it drops ALL / disallows
//   privilege escalation (util-linux setpriv). runAsNonRoot with uid 0 never starts (CreateContainerConfigError).
// - readOnlyRootFilesystem: the container runs in its own mount namespace (unshare) where every mount is
//   read-only except its emptyDir volumes; Secret/ConfigMap and readOnly mounts are read-only binds. HOME is "/"
//   (containerd's default for a uid without a passwd entry), the working directory "/".
// - The image: `binary` stands in for command[0], installed 0755 in a root-owned folder.
// Mount paths are not mounted at their path in the pod: they are rewritten in args and env to the volume folders
// (which are reachable but not listable: 0711 parents). When the tests do not run as root (or mount namespaces
// are not available) the corresponding isolation is skipped; `kubeletIsolation()` says what is enforced.
// Faults: "crash" (the pod fails without running, like a lost node), "bad-auth" (the pod runs with every
// password in its mounted config.json replaced) or "lost-after" (the pod runs to its end, then fails with 137).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { FakeApiServer } from "./kube-apiserver.ts";

type Obj = Record<string, any>;
export type Fault = "crash" | "bad-auth" | "lost-after" | undefined;

export interface KubeletRun {
  job: string;
  index: number;
  attempt: number;
  pod: string;
  code?: number;
  output: string;
  /** the plan/config files the pod saw (path in the pod → content) */
  files: Record<string, string>;
  /** the process's uid, gid and supplementary groups */
  uid?: number;
  gid?: number;
  groups?: number[];
  /** ran with a read-only root filesystem (mount namespace) */
  readOnlyRoot?: boolean;
  /** the pod never started: why (CreateContainerConfigError) */
  refused?: string;
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

interface Security {
  uid: number;
  gid: number;
  groups: number[];
  fsGroup?: number;
  runAsNonRoot: boolean;
  readOnlyRoot: boolean;
  noNewPrivs: boolean;
  dropAll: boolean;
}

/** The effective securityContext of a container (container fields over the pod's; kubelet adds fsGroup to the groups). */
function securityOf(podSpec: Obj, c: Obj): Security {
  const p = podSpec.securityContext ?? {};
  const k = c.securityContext ?? {};
  const uid = Number(k.runAsUser ?? p.runAsUser ?? 0);
  const gid = Number(k.runAsGroup ?? p.runAsGroup ?? 0);
  const fsGroup = p.fsGroup !== undefined ? Number(p.fsGroup) : undefined;
  const groups = [...new Set([...(p.supplementalGroups ?? []).map(Number), ...(fsGroup !== undefined ? [fsGroup] : [])])];
  const drops: string[] = k.capabilities?.drop ?? [];
  return { uid, gid, groups, fsGroup, runAsNonRoot: !!(k.runAsNonRoot ?? p.runAsNonRoot), readOnlyRoot: !!k.readOnlyRootFilesystem, noNewPrivs: k.allowPrivilegeEscalation === false, dropAll: drops.includes("ALL") };
}

/** What this machine lets the test kubelet enforce. */
export interface KubeletIsolation {
  /** processes can be started as another uid/gid with supplementary groups (root + setpriv) */
  users: boolean;
  /** private mount namespaces for readOnlyRootFilesystem (unshare --mount) */
  mountNamespace: boolean;
}
let probed: KubeletIsolation | undefined;
export function kubeletIsolation(): KubeletIsolation {
  if (probed) return probed;
  const root = process.getuid?.() === 0;
  const users = root && spawnSync("setpriv", ["--reuid=65532", "--regid=65532", "--clear-groups", "--", "true"]).status === 0;
  const mountNamespace = root && spawnSync("unshare", ["--mount", "--propagation", "private", "--", "sh", "-c", "mount -t tmpfs ka-probe /mnt 2>/dev/null || mount --bind / /mnt"]).status === 0;
  return (probed = { users, mountNamespace });
}

/** atomic_writer.go: the payload in a fresh `..<timestamp>` folder, `..data` → it, `key` → `..data/key`. */
function atomicWrite(dir: string, payload: Map<string, { data: Buffer; mode: number }>): void {
  const now = new Date();
  const p2 = (n: number) => String(n).padStart(2, "0");
  const ts = mkdtempSync(join(dir, `..${now.getUTCFullYear()}_${p2(now.getUTCMonth() + 1)}_${p2(now.getUTCDate())}_${p2(now.getUTCHours())}_${p2(now.getUTCMinutes())}_${p2(now.getUTCSeconds())}.`));
  chmodSync(ts, 0o755);
  for (const [path, f] of payload) {
    const full = join(ts, path);
    mkdirSync(dirname(full), { recursive: true, mode: 0o777 });
    writeFileSync(full, f.data, { mode: f.mode });
    chmodSync(full, f.mode);
  }
  const tsName = ts.slice(dir.length + 1);
  symlinkSync(tsName, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
  for (const top of new Set([...payload.keys()].map((k) => k.split("/")[0]!))) symlinkSync(join("..data", top), join(dir, top));
}

/** volume_linux.go SetVolumeOwnership: group fsGroup on everything, group read (+write when not read-only), setgid folders. */
function setVolumeOwnership(dir: string, fsGroup: number, readOnly: boolean): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    lchownSync(p, -1, fsGroup);
    if (st.isSymbolicLink()) return;
    let mask = readOnly ? 0o440 : 0o660;
    if (st.isDirectory()) mask |= 0o2000 | 0o110;
    chmodSync(p, (st.mode & 0o7777) | mask);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(dir);
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

  const isolation = kubeletIsolation();
  let baseDir: string | undefined;
  /** the kubelet's root folder: traversable, not listable, by the pods' users */
  function base(): string {
    if (!baseDir) {
      baseDir = mkdtempSync(join(tmpdir(), "ka-kubelet-"));
      chmodSync(baseDir, 0o711);
      dirs.push(baseDir);
    }
    return baseDir;
  }
  const installed = new Map<string, string>();
  /** the image's command[0]: `binary`, installed like an image layer would (root-owned, 0755) */
  function imageBinary(command0: string): string {
    let f = installed.get(command0);
    if (!f) {
      f = join(base(), "rootfs", command0 || "entrypoint");
      mkdirSync(dirname(f), { recursive: true, mode: 0o755 });
      copyFileSync(o.binary, f);
      chmodSync(f, 0o755);
      installed.set(command0, f);
    }
    return f;
  }

  /** Secret/ConfigMap/emptyDir volume set up at `where` (pkg/volume/{secret,configmap,emptydir}). */
  function setUpVolume(v: Obj, where: string, ns: string, fsGroup: number | undefined, fault: Fault, run: KubeletRun, mountPath: string): void {
    mkdirSync(where, { recursive: true });
    if (v.emptyDir) {
      chmodSync(where, 0o777);
      if (fsGroup !== undefined) setVolumeOwnership(where, fsGroup, false);
      return;
    }
    const src = v.secret ?? v.configMap;
    if (!src) throw new Error(`volume ${v.name}: only secret, configMap and emptyDir volumes are emulated`);
    const kind = v.secret ? "Secret" : "ConfigMap";
    const name = v.secret ? v.secret.secretName : v.configMap.name;
    const obj = api.get("v1", kind, name, ns);
    if (!obj) {
      if (!src.optional) throw new Error(`MountVolume.SetUp failed for volume "${v.name}" : ${kind.toLowerCase()} "${name}" not found`);
    }
    const data = new Map<string, Buffer>();
    if (v.secret) for (const [k, val] of Object.entries<string>(obj?.data ?? {})) data.set(k, Buffer.from(val, "base64"));
    else {
      for (const [k, val] of Object.entries<string>(obj?.data ?? {})) data.set(k, Buffer.from(val, "utf8"));
      for (const [k, val] of Object.entries<string>(obj?.binaryData ?? {})) data.set(k, Buffer.from(val, "base64"));
    }
    if (fault === "bad-auth" && data.has("config.json")) {
      const cfg = JSON.parse(data.get("config.json")!.toString("utf8"));
      for (const a of Object.values<Obj>(cfg.auths ?? {})) if (a.auth) a.auth = Buffer.from(`${Buffer.from(a.auth, "base64").toString().split(":")[0]}:wrong-password`).toString("base64");
      data.set("config.json", Buffer.from(JSON.stringify(cfg)));
    }
    // MakePayload: items select and rename keys (a missing key fails the mount unless optional)
    const defaultMode = src.defaultMode ?? 0o644;
    const payload = new Map<string, { data: Buffer; mode: number }>();
    if (src.items?.length) {
      for (const it of src.items) {
        const d = data.get(it.key);
        if (!d) {
          if (src.optional) continue;
          throw new Error(`MountVolume.SetUp failed for volume "${v.name}" : configmap references non-existent config key: ${it.key}`.replace("configmap", kind.toLowerCase()));
        }
        payload.set(it.path, { data: d, mode: it.mode ?? defaultMode });
      }
    } else for (const [k, d] of data) payload.set(k, { data: d, mode: defaultMode });
    for (const [path, f] of payload) run.files[`${mountPath}/${path}`] = f.data.toString("utf8");
    chmodSync(where, 0o755); // what the container sees is a read-only mount of it
    atomicWrite(where, payload);
    if (fsGroup !== undefined) setVolumeOwnership(where, fsGroup, true);
  }

  /** The command line that runs `exe` the way the container runtime would for this securityContext. */
  function sandbox(exe: string, argv: string[], sc: Security, rw: string[], ro: string[]): { file: string; args: string[] } {
    let file = exe;
    let args = argv;
    if (isolation.users) {
      const groups = sc.groups.length ? [`--groups=${sc.groups.join(",")}`] : ["--clear-groups"];
      const caps = sc.dropAll ? ["--inh-caps=-all", "--bounding-set=-all"] : [];
      args = [`--reuid=${sc.uid}`, `--regid=${sc.gid}`, ...groups, ...caps, ...(sc.noNewPrivs ? ["--no-new-privs"] : []), "--", exe, ...argv];
      file = "setpriv";
    }
    if (isolation.mountNamespace) {
      // bind every volume onto itself (its own mount), read-only where the container mounts it so; with
      // readOnlyRootFilesystem every other mount of this namespace becomes read-only (not /proc, /sys, /dev)
      const q = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
      const lines = ["set -e", ...rw.map((d) => `mount --bind ${q(d)} ${q(d)}`), ...ro.flatMap((d) => [`mount --bind ${q(d)} ${q(d)}`, `mount -o remount,bind,ro ${q(d)}`])];
      if (sc.readOnlyRoot) {
        lines.push(
          `keep=${q(["", ...rw, ...ro, ""].join("\n"))}`,
          `awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r mp; do case "$mp" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue;; esac; case "$keep" in *"\n$mp\n"*) continue;; esac; mount -o remount,bind,ro "$mp" 2>/dev/null || true; done`,
        );
      }
      lines.push(`exec "$@"`);
      args = ["--mount", "--propagation", "private", "--", "sh", "-c", lines.join("\n"), "sh", file, ...args];
      file = "unshare";
    }
    return { file, args };
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
    // volumes, as the kubelet lays them out (files owned by root, group fsGroup when set)
    const sc = securityOf(tpl.spec, c);
    run.uid = sc.uid;
    run.gid = sc.gid;
    run.groups = sc.groups;
    const podDir = join(base(), "pods", pod);
    mkdirSync(join(podDir, "volumes"), { recursive: true, mode: 0o711 });
    const mounts = new Map<string, string>();
    const rw: string[] = [];
    const ro: string[] = [];
    let refused: string | undefined;
    for (const m of c.volumeMounts ?? []) {
      const v = (tpl.spec.volumes ?? []).find((x: Obj) => x.name === m.name);
      if (!v) {
        refused = `volumeMount ${m.name}: no volume of that name`;
        break;
      }
      if (m.subPath || m.subPathExpr) throw new Error(`fake kubelet: pod ${pod}: subPath mounts are not emulated`);
      const where = join(podDir, "volumes", m.name);
      if (!mounts.has(m.mountPath)) {
        try {
          setUpVolume(v, where, ns, sc.fsGroup, fault, run, m.mountPath);
        } catch (e) {
          refused = (e as Error).message;
          break;
        }
      }
      mounts.set(m.mountPath, where);
      (m.readOnly || v.secret || v.configMap ? ro : rw).push(where);
    }
    if (!refused && sc.runAsNonRoot && sc.uid === 0) refused = "container has runAsNonRoot and image will run as root";
    if (refused) {
      // like a kubelet: the pod never starts (CreateContainerConfigError / FailedMount), the Job waits
      run.output = `${refused}\n`;
      run.refused = refused;
      const p = api.get("v1", "Pod", pod, ns);
      if (p) api.put({ ...p, status: { ...p.status, phase: "Pending", containerStatuses: [{ name: c.name, ready: false, state: { waiting: { reason: "CreateContainerConfigError", message: refused } } }] } });
      st.running.set(index, undefined);
      setStatus(job, st);
      return;
    }
    const mapPath = (s: string) => {
      for (const [mp, local] of mounts) if (s === mp || s.startsWith(`${mp}/`)) return local + s.slice(mp.length);
      return s;
    };
    const argv = [...(c.command ?? []).slice(1), ...(c.args ?? [])].map(mapPath);
    // containerd: HOME from the image's passwd entry, "/" for a uid without one (the runner image has none)
    const env: Record<string, string> = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/", HOSTNAME: pod, ...(o.env ?? {}) };
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = mapPath(e.value);
    env.JOB_COMPLETION_INDEX = String(index);
    const exe = imageBinary(c.command?.[0] ?? "");
    const { file, args } = sandbox(exe, argv, sc, rw, ro);
    run.readOnlyRoot = sc.readOnlyRoot && isolation.mountNamespace;
    const child = spawn(file, args, { env, cwd: c.workingDir ?? "/", stdio: ["ignore", "pipe", "pipe"] });
    st.running.set(index, child);
    setStatus(job, st);
    child.stdout!.on("data", (d) => (run.output += d));
    child.stderr!.on("data", (d) => (run.output += d));
    child.on("error", (e) => ((run.output += `exec: ${e.message}\n`), finish(127)));
    // "lost-after": the container did its work and printed its report, then the node was lost (exit 137)
    child.on("close", (code) => finish(fault === "lost-after" ? 137 : (code ?? 1)));
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
