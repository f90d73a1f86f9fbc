// A REAL forward proxy for tests: Debian's squid (5.x, /usr/sbin/squid) on a free 127.0.0.1 port with a temp
// config, no cache, CONNECT to any port, and a hosts file of its own — so a name such as
// `registry.airgap.test` resolves through the proxy only, like a registry reachable only via the corporate proxy.
//
//   const proxy = await startSquid({ hosts: { "registry.airgap.test": "127.0.0.1" }, users: { puser: "p@ss" } });
//   proxy.url        "http://127.0.0.1:PORT"; proxy.urlWith("puser") → "http://puser:p%40ss@127.0.0.1:PORT"
//                    (https://… with `tls: { cert, key }`: TLS between client and proxy, then CONNECT inside it)
//   proxy.log()      access.log entries: { method, url, status, user } (CONNECT lines name host:port)
//   await proxy.stop()
// With `users`, squid demands Basic proxy credentials (basic_ncsa_auth over an htpasswd file; 407 otherwise).
// squid logs a CONNECT when the tunnel closes: read log() after the client is done. Squids left running are
// killed when the test process exits.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";

export const SQUID_BIN = process.env.KA_SQUID_BIN ?? "/usr/sbin/squid";
const NCSA = "/usr/lib/squid/basic_ncsa_auth";

export interface SquidOptions {
  /** name → IP, resolved by squid only */
  hosts?: Record<string, string>;
  /** proxy users (Basic auth required when given) */
  users?: Record<string, string>;
  /** an https:// proxy (TLS between client and proxy) with this certificate (paths; read at start) */
  tls?: { cert: string; key: string };
}

export interface SquidEntry {
  method: string;
  url: string;
  status: string;
  user: string;
}

export interface Squid {
  url: string;
  host: string;
  port: number;
  urlWith(user: string): string;
  log(): SquidEntry[];
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export async function startSquid(opts: SquidOptions = {}): Promise<Squid> {
  const dir = mkdtempSync(join(tmpdir(), "ka-squid-"));
  // squid drops to its effective user (proxy) when started as root: it must write logs and read its files
  chmodSync(dir, 0o777);
  const port = await freePort();
  const hostsFile = join(dir, "hosts");
  writeFileSync(hostsFile, Object.entries(opts.hosts ?? {}).map(([n, ip]) => `${ip} ${n}`).join("\n") + "\n", { mode: 0o644 });
  const lines = [
    opts.tls ? `https_port 127.0.0.1:${port} tls-cert=${opts.tls.cert} tls-key=${opts.tls.key}` : `http_port 127.0.0.1:${port}`,
    `pid_filename ${join(dir, "squid.pid")}`,
    "cache deny all",
    "cache_mem 8 MB",
    `access_log stdio:${join(dir, "access.log")}`,
    `cache_log ${join(dir, "cache.log")}`,
    "cache_store_log none",
    `coredump_dir ${dir}`,
    `hosts_file ${hostsFile}`,
    // names not in the hosts file must not resolve through the real DNS (nothing outside the test)
    "dns_nameservers 127.0.0.1",
    "netdb_filename none",
    "pinger_enable off",
    "shutdown_lifetime 0 seconds",
    "via off",
    "forwarded_for delete",
  ];
  if (process.getuid?.() === 0) lines.push("cache_effective_user proxy");
  if (opts.users && Object.keys(opts.users).length) {
    const passwd = join(dir, "passwd");
    const entries = Object.entries(opts.users).map(([u, p]) => `${u}:${execFileSync("openssl", ["passwd", "-apr1", "-stdin"], { input: p }).toString().trim()}`);
    writeFileSync(passwd, entries.join("\n") + "\n", { mode: 0o644 });
    lines.push(`auth_param basic program ${NCSA} ${passwd}`, "auth_param basic realm kube-airgap-test", "acl authed proxy_auth REQUIRED", "http_access allow authed", "http_access deny all");
  } else {
    lines.push("http_access allow all");
  }
  const conf = join(dir, "squid.conf");
  writeFileSync(conf, lines.join("\n") + "\n", { mode: 0o644 });
  const child: ChildProcess = spawn(SQUID_BIN, ["-N", "-f", conf], { stdio: ["ignore", "ignore", "pipe"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const log = existsSync(join(dir, "cache.log")) ? readFileSync(join(dir, "cache.log"), "utf8") : "";
    if (/Accepting HTTPS? Socket connections/.test(log)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`squid did not start: ${stderr}\n${log.split("\n").slice(-15).join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const scheme = opts.tls ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${port}`;
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    urlWith: (user) => `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(opts.users?.[user] ?? "")}@127.0.0.1:${port}`,
    log: () => {
      const f = join(dir, "access.log");
      if (!existsSync(f)) return [];
      return readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => {
        const f = l.trim().split(/\s+/);
        return { status: f[3] ?? "", method: f[5] ?? "", url: f[6] ?? "", user: f[7] ?? "" };
      });
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
