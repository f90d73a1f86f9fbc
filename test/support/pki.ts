// Test PKI made with the real openssl CLI: a CA, server certificates for loopback names, client certificates.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertPair {
  cert: string; // path
  key: string; // path
  certPem: string;
  keyPem: string;
}

export interface TestCA extends CertPair {
  dir: string;
  /** a server certificate valid for localhost, 127.0.0.1 and ::1 (plus extra names) */
  server(name?: string, extraSans?: string[]): CertPair;
  /** a client certificate with CN (user) and O (groups) */
  client(cn: string, orgs?: string[]): CertPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function pair(cert: string, key: string): CertPair {
  return { cert, key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8") };
}

/** Create a fresh CA in a temp dir (or the given dir). */
export function createCA(dir = mkdtempSync(join(tmpdir(), "ka-pki-")), cn = "kube-airgap test CA"): TestCA {
  const caKey = join(dir, "ca.key");
  const caCert = join(dir, "ca.crt");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", caCert, "-days", "2", "-subj", `/CN=${cn}`,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  let serial = 1;
  const issue = (name: string, subj: string, ext: string): CertPair => {
    const key = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const crt = join(dir, `${name}.crt`);
    const extFile = join(dir, `${name}.ext`);
    writeFileSync(extFile, ext);
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subj], dir);
    openssl(["x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-set_serial", String(++serial), "-out", crt, "-days", "2", "-extfile", extFile], dir);
    return pair(crt, key);
  };
  return {
    dir,
    ...pair(caCert, caKey),
    server(name = "server", extraSans = []) {
      const sans = ["DNS:localhost", "IP:127.0.0.1", "IP:::1", ...extraSans.map((s) => (/^[\d.]+$/.test(s) ? `IP:${s}` : `DNS:${s}`))];
      return issue(name, `/CN=${name}`, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${sans.join(",")}\n`);
    },
    client(cn, orgs = []) {
      const subj = `/CN=${cn}${orgs.map((o) => `/O=${o}`).join("")}`;
      return issue(`client-${cn.replace(/[^A-Za-z0-9_-]/g, "_")}`, subj, "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    },
  };
}
