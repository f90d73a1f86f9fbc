// YAML read the way Helm and KubeVela read it (sigs.k8s.io/yaml on go-yaml v2, YAML 1.1 scalars), on the `yaml`
// package. One place where go-yaml (and libyaml, PyYAML) is more lenient than the YAML spec and `yaml`: the
// continuation lines of a multi-line quoted scalar may sit at (or left of) the indentation of the key they belong to
//
//     description: 'APIVersion defines the versioned schema of this representation
//     of an object.'                     ← go-yaml: one string; the spec (and `yaml`): a missing closing quote
//
// (go-yaml's scanner does not check indentation inside quoted scalars; kubebuilder-generated CRDs are full of these).
// Leading white space of a quoted scalar's continuation line is not part of its value (line folding), so indenting
// those lines one column deeper than the key gives the value go-yaml reads; that is done only when the text does not
// parse as it is. Any other error is reported as `<file>: YAML error at LINE:COL: <message>`.
import { parseDocument, type Document } from "yaml";

export class YamlError extends Error {
  override name = "YamlError";
  constructor(
    message: string,
    public line: number,
    public col: number,
  ) {
    super(message);
  }
}

/** Parse YAML like go-yaml v2 (see above); throws YamlError "<label>: YAML error at L:C: message". */
export function parseGoYaml(text: string, label: string): Document {
  const src = text.replace(/^\uFEFF/, "");
  const opts = { version: "1.1" as const, uniqueKeys: false };
  const doc = parseDocument(src, opts);
  if (!doc.errors.length) return doc;
  const fixed = indentQuotedContinuations(src);
  if (fixed !== src) {
    const again = parseDocument(fixed, opts);
    if (!again.errors.length) return again;
  }
  const e = doc.errors[0]!;
  const pos = e.linePos?.[0] ?? { line: 0, col: 0 };
  throw new YamlError(`${label}: YAML error at ${pos.line}:${pos.col}: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`, pos.line, pos.col);
}

/** Where a quoted scalar closes on `line` from `from` (index after the closing quote), or -1 if it goes on. */
function closeQuote(line: string, from: number, q: string): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (q === '"' && c === "\\") i++;
    else if (c === q) {
      if (q === "'" && line[i + 1] === "'") i++;
      else return i + 1;
    }
  }
  return -1;
}

/**
 * Indent every continuation line of a multi-line quoted block value (`key: '…`, `- '…`) one column deeper than its
 * key when it is not already: what go-yaml accepts, in a form the spec accepts, with the same value.
 */
export function indentQuotedContinuations(text: string): string {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    // the node's indentation (after "- " markers), then an optional plain key, then the opening quote
    const m = /^(\s*(?:-\s+)*)((?:[^\s#'"{[][^#]*?)?:\s+|)(['"])/.exec(line);
    if (!m || line.trimStart().startsWith("#")) continue;
    const indent = m[1]!.length;
    const q = m[3]!;
    let end = closeQuote(line, m[0].length, q);
    let j = i;
    while (end < 0 && j + 1 < lines.length) {
      j++;
      const cont = lines[j]!;
      if (/^(---|\.\.\.)(\s|$)/.test(cont)) break; // a document marker ends it (go-yaml: an error)
      const lead = /^[ \t]*/.exec(cont)![0].length;
      if (cont.trim() && lead <= indent) lines[j] = " ".repeat(indent + 1) + cont.slice(lead);
      end = closeQuote(lines[j]!, 0, q);
    }
    i = j;
  }
  return lines.join("\n");
}

// ---------------------------------------------------------------------------------------------------------------
// Writing YAML as sigs.k8s.io/yaml.Marshal does (Helm's chartutil.SaveChartfile, vela's Chart.yaml): JSON-like
// values through go-yaml v2's encoder and emitter (encode.go stringv, emitterc.go analyze_scalar /
// select_scalar_style / write_*_scalar, resolve.go), re-read from their source:
//   - map keys sorted by go-yaml's keyList.Less (digit runs numerically; non-letters before letters);
//   - block style, indent 2, a sequence inside a mapping not indented ("key:\n- a");
//   - a string that would read back as another type (true, yes, on, ~, 1.0, 0x1F, 2001-12-14, 1:20 …) is
//     double-quoted; one that cannot be plain (leading/trailing space, ": ", " #", a leading indicator …) is
//     single-quoted, or double-quoted when it has special characters; one with a line break is a literal block (|, |-, |+);
//   - plain and quoted scalars are folded at a space once the line is past 80 columns (best_width), continuation
//     lines indented 2 deeper than their key.

const WIDTH = 80;

/** go-yaml v2 resolve(): would this plain text read back as something other than a string? */
export function goYamlResolvesNonString(s: string): boolean {
  if (/^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|~|null|Null|NULL|\.nan|\.NaN|\.NAN|[-+]?\.(inf|Inf|INF)|<<)$/.test(s) || s === "") return true;
  const c = s[0]!;
  if (c === ".") return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s); // strconv.ParseFloat
  if (!/[-+0-9]/.test(c)) return false;
  if (/^\d{4}-\d{1,2}-\d{1,2}(([Tt]\d{1,2}:\d{1,2}:\d{1,2}(\.\d{1,9})?(Z|[-+]\d{2}:\d{2}))|( \d{1,2}:\d{1,2}:\d{1,2}(\.\d{1,9})?))?$/.test(s)) return true; // timestamps
  const plain = s.replace(/_/g, "");
  if (/^[-+]?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/.test(plain)) return true; // ParseInt/ParseUint base 0
  if (/^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/.test(plain)) return true; // yamlStyleFloat
  if (/^-0b[01]+$/.test(plain)) return true;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s); // isBase60Float: quoted on the way out
}

const isBreak = (ch: string | undefined) => ch === "\n" || ch === "\r" || ch === "\u0085" || ch === "\u2028" || ch === "\u2029";
const isBlank = (ch: string | undefined) => ch === " " || ch === "\t";
function isPrintable(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  return c === 0x0a || (c >= 0x20 && c <= 0x7e) || c === 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd && c !== 0xfeff) || (c >= 0x10000 && c <= 0x10ffff);
}

interface ScalarAnalysis {
  multiline: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
}

/** emitterc.go yaml_emitter_analyze_scalar (block context; unicode on, as go-yaml v2's encoder sets it). */
function analyzeScalar(value: string): ScalarAnalysis {
  if (value === "") return { multiline: false, blockPlain: true, singleQuoted: true, block: false };
  const ch = [...value];
  let blockIndicators = value.startsWith("---") || value.startsWith("...");
  let lineBreaks = false, special = false, tabs = false, leadingSpace = false, leadingBreak = false, trailingSpace = false, trailingBreak = false, breakSpace = false, spaceBreak = false;
  let precededByWhitespace = true, previousSpace = false, previousBreak = false;
  for (let i = 0; i < ch.length; i++) {
    const c = ch[i]!;
    const followedByWhitespace = i + 1 >= ch.length || isBlank(ch[i + 1]);
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(c)) blockIndicators = true;
      else if ((c === "?" || c === ":" || c === "-") && followedByWhitespace) blockIndicators = true;
    } else if (c === ":" && followedByWhitespace) blockIndicators = true;
    else if (c === "#" && precededByWhitespace) blockIndicators = true;
    if (c === "\t") tabs = true;
    else if (!isPrintable(c)) special = true;
    if (c === " ") {
      if (i === 0) leadingSpace = true;
      if (i === ch.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === ch.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlank(c) || isBreak(c);
  }
  let blockPlain = true, singleQuoted = true, block = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlain = false;
  if (trailingSpace) block = false;
  if (breakSpace) blockPlain = singleQuoted = false;
  if (spaceBreak || tabs || special) blockPlain = singleQuoted = false;
  if (spaceBreak || special) block = false;
  if (lineBreaks) blockPlain = false;
  if (blockIndicators) blockPlain = false;
  return { multiline: lineBreaks, blockPlain, singleQuoted, block };
}

/** Writes scalars like emitterc.go, tracking the column (one per character) for folding. */
class Out {
  text = "";
  column = 0;
  put(s: string): void {
    this.text += s;
    this.column += [...s].length;
  }
  /** write_indent: a line break unless a block scalar just ended one, then the indentation */
  newline(indent: number): void {
    if (!(this.column === 0 && this.text.endsWith("\n"))) this.text += "\n";
    this.text += " ".repeat(indent);
    this.column = indent;
  }
}

function escapeDouble(c: string): string {
  const map: Record<string, string> = { "\0": "0", "\x07": "a", "\b": "b", "\t": "t", "\n": "n", "\x0b": "v", "\f": "f", "\r": "r", "\x1b": "e", '"': '"', "\\": "\\", "\u0085": "N", "\u00a0": "_", "\u2028": "L", "\u2029": "P" };
  if (map[c] !== undefined) return `\\${map[c]}`;
  const v = c.codePointAt(0)!;
  return v <= 0xff ? `\\x${v.toString(16).toUpperCase().padStart(2, "0")}` : v <= 0xffff ? `\\u${v.toString(16).toUpperCase().padStart(4, "0")}` : `\\U${v.toString(16).toUpperCase().padStart(8, "0")}`;
}

/** Write a string scalar (value context) or a key (simple-key context: no breaks). */
function writeString(o: Out, s: string, indent: number, simpleKey: boolean): void {
  const a = analyzeScalar(s);
  let style: "plain" | "single" | "double" | "literal" = s.includes("\n") ? "literal" : goYamlResolvesNonString(s) ? "double" : "plain";
  if (simpleKey && a.multiline) style = "double";
  if (style === "plain" && (!a.blockPlain || (s === "" && simpleKey))) style = "single";
  if (style === "single" && !a.singleQuoted) style = "double";
  if (style === "literal" && (!a.block || simpleKey)) style = "double";
  const ch = [...s];
  const allowBreaks = !simpleKey;
  if (style === "plain") {
    if (s.length) o.put(" ");
    let spaces = false;
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i]!;
      if (c === " ") {
        if (allowBreaks && !spaces && o.column > WIDTH && ch[i + 1] !== " ") o.newline(indent);
        else o.put(c);
        spaces = true;
      } else {
        o.put(c);
        spaces = false;
      }
    }
  } else if (style === "single") {
    o.put(" '");
    let spaces = false;
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i]!;
      if (c === " ") {
        if (allowBreaks && !spaces && o.column > WIDTH && i > 0 && i < ch.length - 1 && ch[i + 1] !== " ") o.newline(indent);
        else o.put(c);
        spaces = true;
      } else {
        o.put(c === "'" ? "''" : c);
        spaces = false;
      }
    }
    o.put("'");
  } else if (style === "double") {
    o.put(' "');
    let spaces = false;
    for (let i = 0; i < ch.length; i++) {
      const c = ch[i]!;
      if (!isPrintable(c) || c === "\ufeff" || isBreak(c) || c === '"' || c === "\\") {
        o.put(escapeDouble(c));
        spaces = false;
      } else if (c === " ") {
        if (allowBreaks && !spaces && o.column > WIDTH && i > 0 && i < ch.length - 1) {
          o.newline(indent);
          if (ch[i + 1] === " ") o.put("\\");
        } else o.put(c);
        spaces = true;
      } else {
        o.put(c);
        spaces = false;
      }
    }
    o.put('"');
  } else {
    // literal block: indentation hint when it starts with a space or break; chomping from the trailing breaks
    o.put(" |");
    if (ch[0] === " " || isBreak(ch[0])) o.put("2");
    const last = ch.length - 1;
    if (!isBreak(ch[last])) o.put("-");
    else if (last === 0 || isBreak(ch[last - 1])) o.put("+");
    let breaks = true;
    for (const c of ch) {
      if (isBreak(c)) {
        o.text += "\n";
        o.column = 0;
        breaks = true;
      } else {
        if (breaks) {
          if (o.column !== 0 || !o.text.endsWith("\n")) o.text += "\n";
          o.text += " ".repeat(indent);
          o.column = indent;
        }
        o.put(c);
        breaks = false;
      }
    }
  }
}

/** go-yaml's keyList.Less for string keys. */
export function goYamlKeyLess(a: string, b: string): boolean {
  const ar = [...a], br = [...b];
  const isLetter = (c: string) => /\p{L}/u.test(c);
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!), bl = isLetter(br[i]!);
    if (al && bl) return ar[i]! < br[i]!;
    if (al || bl) return bl;
    let an = 0, bn = 0;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== "0") {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i, bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10 + Number(ar[ai]);
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10 + Number(br[bi]);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]! < br[i]!;
  }
  return ar.length < br.length;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isEmptyCollection(v: Json): boolean {
  return (Array.isArray(v) && v.length === 0) || (typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);
}

function writeScalarValue(o: Out, v: Json, indent: number): void {
  if (v === null) o.put(" null");
  else if (typeof v === "boolean") o.put(` ${v}`);
  else if (typeof v === "number") o.put(` ${Number.isInteger(v) ? String(v) : String(v).replace(/e\+?/, "e+").replace("e+-", "e-")}`);
  else writeString(o, v as string, indent, false);
}

/** A value after "key:" or "-": `indent` is the indentation of the key (or of the "-"). */
function writeNode(o: Out, v: Json, indent: number, inMapping: boolean): void {
  if (Array.isArray(v)) {
    if (!v.length) return o.put(" []");
    // in a mapping the sequence is not indented; in a sequence it is, its first item on the same line
    const seqIndent = inMapping ? indent : indent + 2;
    v.forEach((item, i) => {
      if (inMapping || i > 0) o.newline(seqIndent);
      else o.put(" ");
      o.put("-");
      writeItem(o, item, seqIndent);
    });
  } else if (v !== null && typeof v === "object") {
    if (!Object.keys(v).length) return o.put(" {}");
    writeMapping(o, v, indent + 2, false);
  } else writeScalarValue(o, v, indent + 2);
}

function writeItem(o: Out, item: Json, seqIndent: number): void {
  if (item !== null && typeof item === "object" && !Array.isArray(item) && Object.keys(item).length) {
    o.put(" ");
    writeMapping(o, item, seqIndent + 2, true);
  } else if (Array.isArray(item) && item.length) writeNode(o, item, seqIndent, false);
  else if (isEmptyCollection(item)) o.put(Array.isArray(item) ? " []" : " {}");
  else writeScalarValue(o, item, seqIndent + 2);
}

function writeMapping(o: Out, m: { [k: string]: Json }, indent: number, firstOnLine: boolean): void {
  const keys = Object.keys(m).sort((a, b) => (goYamlKeyLess(a, b) ? -1 : goYamlKeyLess(b, a) ? 1 : 0));
  keys.forEach((k, i) => {
    if (!(firstOnLine && i === 0)) o.newline(indent);
    const key = new Out();
    writeString(key, k, indent, true);
    o.put(key.text.slice(1)); // the key starts the line: no separating space
    o.put(":");
    writeNode(o, m[k]!, indent, true);
  });
}

/**
 * The bytes sigs.k8s.io/yaml.Marshal (go-yaml v2) writes for a JSON-like value (a map at the top, as for
 * Chart.yaml). Only JSON types: objects, arrays, strings, numbers, booleans, null.
 */
export function marshalGoYaml(v: { [k: string]: unknown }): string {
  const o = new Out();
  const json = JSON.parse(JSON.stringify(v)) as { [k: string]: Json };
  if (!Object.keys(json).length) return "{}\n";
  writeMapping(o, json, 0, true);
  return o.text.replace(/^\n/, "") + "\n";
}
