// .helmignore rules (Helm's pkg/ignore): one glob per line (Go filepath.Match syntax), "#" comments,
// a trailing "/" matches directories only, a leading "/" anchors at the chart root, a rule without "/"
// matches the base name, a rule with "/" matches the whole relative path, "**" is not supported.
// Negation ("!rule") re-includes a path, and the last matching rule wins (gitignore semantics — Helm's own
// negation handling is inverted in a way nobody relies on).

export class HelmIgnoreError extends Error {
  override name = "HelmIgnoreError";
}

interface Rule {
  raw: string;
  negate: boolean;
  dirOnly: boolean;
  /** match against the full relative path (true) or the base name (false) */
  full: boolean;
  re: RegExp;
}

/** Translate a Go filepath.Match pattern (with "/" as separator) into an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\") {
      const n = glob[++i];
      if (n === undefined) throw new HelmIgnoreError(`bad pattern "${glob}": trailing backslash`);
      re += n.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) throw new HelmIgnoreError(`bad pattern "${glob}": unclosed [`);
      let body = glob.slice(i + 1, end);
      let neg = false;
      if (body.startsWith("^") || body.startsWith("!")) {
        neg = true;
        body = body.slice(1);
      }
      body = body.replace(/\\(.)/g, "$1").replace(/[\]\\^]/g, "\\$&");
      re += `[${neg ? "^/" : ""}${body}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(re + "$", "s");
}

export class HelmIgnore {
  private rules: Rule[] = [];

  /** Parse the text of a .helmignore file. */
  static parse(text: string, source = ".helmignore"): HelmIgnore {
    const ig = new HelmIgnore();
    text.split(/\r?\n/).forEach((line, i) => {
      try {
        ig.add(line);
      } catch (err) {
        throw new HelmIgnoreError(`${source}:${i + 1}: ${(err as Error).message}`);
      }
    });
    return ig;
  }

  add(line: string): this {
    let rule = line.trim();
    if (!rule || rule.startsWith("#")) return this;
    if (rule.includes("**")) throw new HelmIgnoreError(`double-star (**) syntax is not supported: "${rule}"`);
    const raw = rule;
    let negate = false;
    if (rule.startsWith("!")) {
      negate = true;
      rule = rule.slice(1);
    }
    let dirOnly = false;
    if (rule.endsWith("/")) {
      dirOnly = true;
      rule = rule.replace(/\/+$/, "");
    }
    let full = rule.includes("/");
    if (rule.startsWith("/")) {
      rule = rule.replace(/^\/+/, "");
      full = true;
    }
    if (!rule) return this;
    this.rules.push({ raw, negate, dirOnly, full, re: globToRegExp(rule) });
    return this;
  }

  /** Is `path` (relative to the chart root, "/"-separated) ignored? */
  ignores(path: string, isDir: boolean): boolean {
    if (!path || path === "." || path === "./") return false;
    const base = path.slice(path.lastIndexOf("/") + 1);
    let ignored = false;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.re.test(r.full ? path : base)) ignored = !r.negate;
    }
    return ignored;
  }

  get size(): number {
    return this.rules.length;
  }
}
