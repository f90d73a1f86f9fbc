// Issue 12 acceptance: every command that talks to a registry (or to Palette/the platform with a secret) says in
// its --help which credential goes where and in what order: a CREDENTIALS section naming every credential flag
// the command has. The set of commands is derived from their flags, so a new registry command without the
// section fails here.
import { describe, expect, test } from "bun:test";
import { runCli } from "../support/cli.ts";

const plugins = ["kubectl-mirror", "kubectl-violet", "kubectl-scar", "helm-addon-push"];

// a flag that carries or selects a credential (platform-address etc. are addresses, not credentials)
const CREDENTIAL_FLAG = /(^|-)(username|password|password-stdin|password-file|token|access-token|auth-header|registry-config|cred-file|credentials-from-secret|no-auth)$/;
// flags whose names match but that are no credential
const NOT_CREDENTIAL = new Set(["client-id"]);
// commands whose whole job is a credential (they store or remove one, or copy a CA): their own help says it
const EXEMPT = new Set(["kubectl-mirror login", "kubectl-mirror logout", "kubectl-mirror copy-ca"]);

async function commandsOf(plugin: string): Promise<[string, any][]> {
  const { commands } = await import(`../../plugins/${plugin}/commands/index.ts`);
  const out: [string, any][] = [];
  for (const [name, lazy] of Object.entries(commands) as [string, any][]) out.push([name, await lazy()]);
  // helm addon-push's root command is the push
  if (plugin === "helm-addon-push") out.push(["", (await import("../../plugins/helm-addon-push/commands/push.ts")).default]);
  return out;
}

function credentialFlags(cmd: any): string[] {
  const args = (typeof cmd.args === "function" ? undefined : cmd.args) ?? {};
  return Object.entries(args as Record<string, { type?: string }>)
    .filter(([k, v]) => v.type !== "positional" && CREDENTIAL_FLAG.test(k) && !NOT_CREDENTIAL.has(k))
    .map(([k]) => k);
}

function section(help: string): string | undefined {
  const i = help.indexOf("\nCREDENTIALS");
  if (i < 0) return undefined;
  const rest = help.slice(i + 1);
  const end = rest.search(/\n\n[A-Z]/);
  return end < 0 ? rest : rest.slice(0, end);
}

describe.each(plugins)("%s: CREDENTIALS in --help", (plugin) => {
  test("every command with a credential flag has the section, naming each of its credential flags", async () => {
    const cmds = await commandsOf(plugin);
    const checked: string[] = [];
    for (const [name, cmd] of cmds) {
      if (EXEMPT.has(`${plugin} ${name}`)) continue;
      const flags = credentialFlags(cmd);
      if (!flags.length) continue;
      checked.push(name);
      const r = await runCli(plugin, [...(name ? [name] : []), "--help"]);
      expect(r.code).toBe(0);
      const s = section(r.stdout);
      expect(s === undefined ? `${plugin} ${name}: no CREDENTIALS section` : "ok").toBe("ok");
      // each flag is named as --flag (a short alias like -u/--username counts: the long name is written)
      const missing = flags.filter((f) => !new RegExp(`--${f}(?![\\w-])`).test(s!));
      expect(`${plugin} ${name}: ${missing.join(", ")}`).toBe(`${plugin} ${name}: `);
      expect(s!).toMatch(/first that applies wins/);
    }
    expect(checked.length).toBeGreaterThan(0);
  });
});

test("the registry-touching commands are the expected ones (the flag test above covers each)", async () => {
  const found: string[] = [];
  for (const p of plugins) for (const [name, cmd] of await commandsOf(p)) if (credentialFlags(cmd).length) found.push(`${p} ${name}`.trim());
  // violet push/create/package (+ platform-only list/gc/whoami), scar push/migrate/verify/status (+ Palette-only
  // rollback/set-endpoint), addon-push, mirror's transfer commands
  for (const c of ["kubectl-violet list", "kubectl-violet gc", "kubectl-scar set-endpoint", "kubectl-violet create", "kubectl-violet package", "kubectl-violet push", "kubectl-scar push", "kubectl-scar migrate", "kubectl-scar verify", "kubectl-scar status", "kubectl-scar rollback", "helm-addon-push", "kubectl-mirror copy", "kubectl-mirror sync"]) {
    expect(found).toContain(c);
  }
});
