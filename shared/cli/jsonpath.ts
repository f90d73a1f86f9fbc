// The part of kubectl's JSONPath templates people use in scripts: `{.a.b}`, `{.items[*].name}`, `{.x[0]}`,
// `{['key.with.dots']}`, `{range .items[*]}{.name}{"\n"}{end}`, literal text between expressions.
import { UsageError } from "./errors.ts";

type Node = { kind: "text"; text: string } | { kind: "path"; steps: Step[] } | { kind: "range"; steps: Step[]; body: Node[] };
type Step = { kind: "key"; key: string } | { kind: "index"; index: number } | { kind: "all" };

export function renderJsonPath(template: string, data: unknown): string {
  const nodes = parseTemplate(template);
  return render(nodes, data);
}

function render(nodes: Node[], cur: unknown): string {
  let out = "";
  for (const n of nodes) {
    if (n.kind === "text") out += n.text;
    else if (n.kind === "path") out += evaluate(n.steps, cur).map(show).join(" ");
    else for (const item of evaluate(n.steps, cur)) out += render(n.body, item);
  }
  return out;
}

function show(v: unknown): string {
  return typeof v === "string" ? v : v === undefined ? "" : JSON.stringify(v);
}

function evaluate(steps: Step[], root: unknown): unknown[] {
  let cur: unknown[] = [root];
  for (const s of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (v === null || v === undefined) continue;
      if (s.kind === "key") {
        if (typeof v === "object" && Object.hasOwn(v as object, s.key)) next.push((v as Record<string, unknown>)[s.key]);
      } else if (s.kind === "index") {
        if (Array.isArray(v)) {
          const i = s.index < 0 ? v.length + s.index : s.index;
          if (i >= 0 && i < v.length) next.push(v[i]);
        }
      } else if (Array.isArray(v)) next.push(...v);
      else if (typeof v === "object") next.push(...Object.values(v as object));
    }
    cur = next;
  }
  return cur;
}

function parseTemplate(t: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  let i = 0;
  while (i < t.length) {
    const open = t.indexOf("{", i);
    if (open < 0) {
      stack[stack.length - 1]!.push({ kind: "text", text: t.slice(i) });
      break;
    }
    if (open > i) stack[stack.length - 1]!.push({ kind: "text", text: t.slice(i, open) });
    const close = findClose(t, open);
    const expr = t.slice(open + 1, close).trim();
    i = close + 1;
    const top = stack[stack.length - 1]!;
    if (/^"(?:[^"\\]|\\.)*"$/.test(expr)) top.push({ kind: "text", text: JSON.parse(expr) as string });
    else if (expr === "end") {
      if (stack.length === 1) throw bad(t, "{end} without {range}");
      stack.pop();
    } else if (expr.startsWith("range ")) {
      const body: Node[] = [];
      top.push({ kind: "range", steps: parsePath(expr.slice(6).trim(), t), body });
      stack.push(body);
    } else top.push({ kind: "path", steps: parsePath(expr, t) });
  }
  if (stack.length > 1) throw bad(t, "{range} without {end}");
  return root;
}

function findClose(t: string, open: number): number {
  let q = false;
  for (let j = open + 1; j < t.length; j++) {
    const c = t[j];
    if (c === "\\") j++;
    else if (c === '"' || c === "'") q = !q;
    else if (c === "}" && !q) return j;
  }
  throw bad(t, "unclosed {");
}

function parsePath(p: string, t: string): Step[] {
  const steps: Step[] = [];
  let i = 0;
  if (p[0] === "$" || p[0] === "@") i++;
  while (i < p.length) {
    const c = p[i]!;
    if (c === ".") {
      if (p[i + 1] === "*") {
        steps.push({ kind: "all" });
        i += 2;
        continue;
      }
      const m = /^[^.[\]]+/.exec(p.slice(i + 1));
      if (!m) {
        if (i + 1 === p.length) break; // "." alone: the current object
        throw bad(t, `bad path "${p}"`);
      }
      steps.push({ kind: "key", key: m[0] });
      i += 1 + m[0].length;
    } else if (c === "[") {
      const end = p.indexOf("]", i);
      if (end < 0) throw bad(t, `unclosed [ in "${p}"`);
      const inner = p.slice(i + 1, end).trim();
      if (inner === "*") steps.push({ kind: "all" });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: "index", index: Number(inner) });
      else if (/^'[^']*'$|^"[^"]*"$/.test(inner)) steps.push({ kind: "key", key: inner.slice(1, -1) });
      else throw bad(t, `unsupported [${inner}] in "${p}" (use [N], [*] or ['key'])`);
      i = end + 1;
    } else throw bad(t, `bad path "${p}" (paths start with ".")`);
  }
  return steps;
}

function bad(t: string, why: string): UsageError {
  return new UsageError(`-o jsonpath=${t}: ${why}`);
}
