// The test kubelet (test/support/kubelet.ts) against what a real kubelet does to a pod (pkg/volume/secret,
// atomic_writer.go, SetVolumeOwnership in volume_linux.go, the runtime's user/groups, readOnlyRootFilesystem):
// a Job whose "image" is /bin/sh reports what its process sees.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeApiServer, type FakeApiServer } from "../support/kube-apiserver.ts";
import { kubeletIsolation, startFakeKubelet, type KubeletRun } from "../support/kubelet.ts";

let api: FakeApiServer;
const iso = kubeletIsolation();

beforeAll(async () => {
  api = await startFakeApiServer({ namespaces: ["k"] });
  api.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "auth", namespace: "k" }, type: "Opaque", data: { "config.json": Buffer.from('{"auths":{}}').toString("base64"), "ca.crt": Buffer.from("CA").toString("base64") } });
});
afterAll(() => api?.stop());

let n = 0;
/** run a one-pod Job with this pod spec; `script` runs as `sh -c` with $AUTH, $SCRATCH (mount paths) set */
async function runPod(spec: { securityContext?: object; containerSecurityContext?: object; defaultMode?: number; items?: object[] }, script: string): Promise<KubeletRun> {
  const name = `probe-${++n}`;
  api.put({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: "k" },
    spec: {
      completions: 1,
      parallelism: 1,
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          ...(spec.securityContext ? { securityContext: spec.securityContext } : {}),
          containers: [
            {
              name: "c",
              image: "sh",
              command: ["/bin/sh", "-c", script],
              env: [{ name: "AUTH", value: "/etc/auth" }, { name: "SCRATCH", value: "/scratch" }],
              ...(spec.containerSecurityContext ? { securityContext: spec.containerSecurityContext } : {}),
              volumeMounts: [{ name: "auth", mountPath: "/etc/auth", readOnly: true }, { name: "scratch", mountPath: "/scratch" }],
            },
          ],
          volumes: [{ name: "auth", secret: { secretName: "auth", ...(spec.defaultMode !== undefined ? { defaultMode: spec.defaultMode } : {}), ...(spec.items ? { items: spec.items } : {}) } }, { name: "scratch", emptyDir: {} }],
        },
      },
    },
  });
  const k = startFakeKubelet(api, { binary: "/bin/sh", intervalMs: 20 });
  try {
    for (let i = 0; i < 300 && !(k.runs[0]?.code !== undefined || k.runs[0]?.refused); i++) await new Promise((r) => setTimeout(r, 50));
    return { ...k.runs[0]! };
  } finally {
    await k.stop();
    api.remove("batch/v1", "Job", name, "k");
  }
}

describe.skipIf(!iso.users)("test kubelet: a pod as a kubelet runs it", () => {
  test("Secret files are root-owned with defaultMode: a non-root pod without fsGroup cannot read a 0400 Secret (EACCES on a real node)", async () => {
    const r = await runPod({ securityContext: { runAsUser: 65532, runAsGroup: 65532 }, defaultMode: 0o400 }, 'id -u; id -g; id -G; ls -A "$AUTH"; stat -L -c "%a %u %g" "$AUTH/config.json"; readlink "$AUTH/config.json"; cat "$AUTH/config.json"');
    const lines = r.output.split("\n");
    expect(lines.slice(0, 3)).toEqual(["65532", "65532", "65532"]);
    // atomic_writer.go layout: ..<timestamp>, ..data → it, key → ..data/key
    const listing = lines.slice(3, 7).sort();
    expect(listing.slice(1)).toEqual(["..data", "ca.crt", "config.json"]);
    expect(listing[0]).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+$/);
    expect(r.output).toContain("400 0 0\n..data/config.json\n");
    expect(r.output).toMatch(/Permission denied/);
    expect(r.code).not.toBe(0);
  }, 30_000);

  test("fsGroup: files group fsGroup with group read added, setgid folders; the process is in fsGroup and supplementalGroups", async () => {
    const r = await runPod({ securityContext: { runAsUser: 65532, runAsGroup: 65532, fsGroup: 3000, supplementalGroups: [2000] }, defaultMode: 0o400 }, 'id -G; stat -L -c "%a %u %g" "$AUTH/config.json" "$AUTH/..data" "$SCRATCH"; cat "$AUTH/config.json"');
    expect(r.code, r.output).toBe(0);
    const [groups, file, dir, scratch, content] = r.output.split("\n");
    expect(groups!.split(" ").map(Number).sort()).toEqual([2000, 3000, 65532]);
    expect(file).toBe("440 0 3000");
    expect(dir).toBe("2755 0 3000");
    expect(scratch).toBe("2777 0 3000");
    expect(content).toBe('{"auths":{}}');
    expect(r.groups?.sort()).toEqual([2000, 3000]);
  }, 30_000);

  test("items: only the listed keys, at their paths, with the item's mode over defaultMode", async () => {
    const r = await runPod({ securityContext: { fsGroup: 3000 }, defaultMode: 0o600, items: [{ key: "ca.crt", path: "certs/ca.pem", mode: 0o400 }] }, 'ls "$AUTH"; stat -L -c "%a %u %g" "$AUTH/certs/ca.pem" "$AUTH/certs"');
    expect(r.output).toBe("certs\n440 0 3000\n2755 0 3000\n");
  }, 30_000);

  test("the default Secret mode is 0644 and root runs as root", async () => {
    const r = await runPod({}, 'id -u; stat -L -c "%a %u %g" "$AUTH/ca.crt"');
    expect(r.output).toBe("0\n644 0 0\n");
  }, 30_000);

  test.skipIf(!iso.mountNamespace)("readOnlyRootFilesystem: only emptyDir volumes are writable (not /tmp, not HOME, not the Secret)", async () => {
    const script = 'echo "home=$HOME"; for d in /tmp /var/tmp "$HOME" "$AUTH" "$SCRATCH"; do if f=$(mktemp "$d/ka-probe.XXXXXX" 2>/dev/null); then echo "$d writable"; rm -f "$f"; else echo "$d read-only"; fi; done';
    const ro = await runPod({ securityContext: { runAsUser: 65532, fsGroup: 65532 }, containerSecurityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }, script);
    expect(ro.code, ro.output).toBe(0);
    expect(ro.readOnlyRoot).toBe(true);
    expect(ro.output).toContain("home=/\n");
    expect(ro.output).toContain("/tmp read-only\n");
    expect(ro.output).toContain("/var/tmp read-only\n");
    expect(ro.output).toMatch(/volumes\/auth read-only\n/);
    expect(ro.output).toMatch(/volumes\/scratch writable\n/);
    // the same pod without it can write /tmp
    const rw = await runPod({ securityContext: { runAsUser: 65532, fsGroup: 65532 } }, script);
    expect(rw.output).toContain("/tmp writable\n");
    expect(rw.output).toMatch(/volumes\/auth read-only\n/);
  }, 30_000);

  test("runAsNonRoot with no runAsUser (root image user) never starts: CreateContainerConfigError", async () => {
    const r = await runPod({ securityContext: { runAsNonRoot: true } }, "echo ran");
    expect(r.refused).toBe("container has runAsNonRoot and image will run as root");
    expect(r.output).not.toContain("ran\n");
  }, 30_000);
});
