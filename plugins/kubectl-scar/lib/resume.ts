// The exact commands to resume or roll back a stopped migration, rebuilt from the user's arguments with every
// secret value left out (passwords come back through stdin or the environment).
const SECRET_VALUE_FLAGS = new Set(["--password", "-p", "--palette-password", "--palette-token"]);
/** flags (with a value) that rollback understands */
const ROLLBACK_VALUE_FLAGS = new Set(["--palette", "--palette-username", "--palette-password-file", "--palette-ca-file", "--state-dir", "--request-timeout", "--kubeconfig", "--context", "--namespace", "-n"]);
const ROLLBACK_BOOL_FLAGS = new Set(["--palette-insecure", "--palette-password-stdin", "--debug"]);

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

interface Tok {
  flag?: string;
  value?: string;
  text: string[];
}

/** Split argv into flag tokens (flag + its value when it takes one) and positionals. */
function tokens(argv: string[], valueFlags: Set<string>): Tok[] {
  const out: Tok[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      out.push({ text: argv.slice(i) });
      break;
    }
    if (a.startsWith("-") && a !== "-") {
      const eq = a.indexOf("=");
      const flag = eq > 0 ? a.slice(0, eq) : a;
      if (eq > 0) out.push({ flag, value: a.slice(eq + 1), text: [a] });
      else if (valueFlags.has(flag) && i + 1 < argv.length) out.push({ flag, value: argv[i + 1], text: [a, argv[++i]!] });
      else out.push({ flag, text: [a] });
    } else out.push({ text: [a] });
  }
  return out;
}

export interface ResumeCommands {
  resume: string;
  rollback: string;
  /** what the user must provide again (secrets left out) */
  notes: string[];
}

/**
 * `valueFlags`: every flag of the command that takes a value (so the parser keeps values with their flag).
 * argv is the command's raw argv (without "kubectl scar migrate").
 */
export function resumeCommands(argv: string[], valueFlags: string[]): ResumeCommands {
  const vf = new Set([...valueFlags.flatMap((f) => (f.length === 1 ? [`-${f}`] : [`--${f}`])), ...SECRET_VALUE_FLAGS]);
  const toks = tokens(argv, vf);
  const notes: string[] = [];
  const keep: string[] = [];
  let registryPw = false;
  for (const t of toks) {
    if (t.flag && SECRET_VALUE_FLAGS.has(t.flag)) {
      if (t.flag === "--password" || t.flag === "-p") registryPw = true;
      else if (t.flag === "--palette-password") notes.push("set PALETTE_PASSWORD (the password was left out)");
      else notes.push("set PALETTE_TOKEN (the token was left out)");
      continue;
    }
    if (t.flag === "--dry-run" || t.flag === "--break-lock") continue; // a lock is broken once, by the operator
    keep.push(...t.text);
  }
  if (registryPw && !keep.includes("--password-stdin")) {
    keep.push("--password-stdin");
    notes.push("pipe the registry password to stdin");
  }
  if (keep.includes("--password-stdin")) notes.push("pipe the registry password to stdin again");
  if (keep.includes("--palette-password-stdin")) notes.push("pipe the Palette password to stdin again");
  const rb: string[] = [];
  for (const t of toks) {
    if (!t.flag) continue;
    if (ROLLBACK_VALUE_FLAGS.has(t.flag) && t.value !== undefined) rb.push(...t.text);
    else if (ROLLBACK_BOOL_FLAGS.has(t.flag)) rb.push(...t.text);
  }
  return {
    resume: ["kubectl", "scar", "migrate", ...keep].map(shellQuote).join(" "),
    rollback: ["kubectl", "scar", "rollback", ...rb].map(shellQuote).join(" "),
    notes: [...new Set(notes)],
  };
}
