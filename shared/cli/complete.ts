// Shell completion for every plugin, on cobra's protocol (what kubectl and Helm speak):
//   <prog> __complete WORD... CURRENT   prints one candidate per line ("value\tdescription"), then ":<directive>"
//   <prog> completion bash|zsh|fish|powershell   prints a script that calls __complete
// kubectl (≥ 1.26) completes `kubectl violet …` by running `kubectl_complete-violet WORD... CURRENT` from PATH;
// Helm runs `$HELM_PLUGIN_DIR/plugin.complete WORD... CURRENT`. Both exec `<prog> __complete`.
// Completes subcommands, flags, flag values (-o formats, --dry-run modes, kubeconfig contexts/clusters/users,
// namespaces from the API server) and local files where a flag or argument takes a path.
import type { ArgsDef, CommandDef } from "citty";
import { flagTable } from "./argv.ts";
import { optionalValueFlags } from "./conventions.ts";

/** cobra's ShellCompDirective bits */
export const Directive = { Default: 0, Error: 1, NoSpace: 2, NoFileComp: 4, FilterFileExt: 8, FilterDirs: 16, KeepOrder: 32 } as const;

export interface Completion {
  candidates: string[];
  directive: number;
}

type AnyCommand = CommandDef<any>;

async function resolveValue<T>(v: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

const PATH_HINT = /FILE|DIR|PATH|ARCHIVE|CHART|KEYRING/i;
const CONTEXT_FLAGS = new Set(["context", "from-context", "to-context", "kube-context"]);

function describe(name: string, description?: string): string {
  const d = (description ?? "").split("\n")[0]!.replace(/\t/g, " ").trim();
  return d ? `${name}\t${d}` : name;
}

/** Values of a flag: formats, modes, kubeconfig names, namespaces; `undefined` = complete files. */
async function flagValues(name: string, def: Record<string, any>, kubeFlags: Record<string, string>): Promise<Completion | undefined> {
  const hint = String(def.valueHint ?? "");
  if (name === "output" && hint.includes("|")) {
    const fs = hint.split("|").map((f) => (f.startsWith("jsonpath=") ? "jsonpath=" : f));
    return { candidates: fs, directive: Directive.NoFileComp }; // "jsonpath=" adds NoSpace below
  }
  if (hint === "none|client|server") return { candidates: ["none", "client", "server"], directive: Directive.NoFileComp };
  if (CONTEXT_FLAGS.has(name) || name === "cluster" || name === "user") {
    try {
      const { loadKubeconfig } = await import("../kube/config.ts");
      const kc = loadKubeconfig({ kubeconfig: kubeFlags.kubeconfig });
      const map = CONTEXT_FLAGS.has(name) ? kc.contexts : name === "cluster" ? kc.clusters : kc.users;
      return { candidates: [...map.keys()].sort(), directive: Directive.NoFileComp };
    } catch {
      return { candidates: [], directive: Directive.NoFileComp };
    }
  }
  if (name === "namespace" || name.endsWith("-namespace")) return { candidates: await namespaces(kubeFlags), directive: Directive.NoFileComp };
  if (name === "platform" || hint === "OS/ARCH") return { candidates: [...PLATFORMS], directive: Directive.NoFileComp };
  if (name === "arch") return { candidates: ["amd64", "arm64"], directive: Directive.NoFileComp };
  if (/^(REGISTRY|HOST)\b/.test(hint)) return { candidates: await registryHosts(kubeFlags), directive: Directive.NoFileComp };
  if (def.type === "boolean") return { candidates: [], directive: Directive.NoFileComp };
  if (PATH_HINT.test(hint) || /file|dir|config|keyring|archive|path/.test(name)) return undefined;
  return { candidates: [], directive: Directive.NoFileComp };
}

/** The platforms images are commonly built for (what `docker buildx` and skopeo name), for --platform. */
const PLATFORMS = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/ppc64le", "linux/s390x", "linux/386", "linux/riscv64", "windows/amd64"] as const;

/** Registries with stored credentials in docker config.json (auths and credHelpers; Docker Hub's URL key as docker.io). */
async function registryHosts(flags: Record<string, string>): Promise<string[]> {
  try {
    const { defaultDockerConfigPath, readDockerConfig } = await import("../oci/transport/credentials.ts");
    const cfg = readDockerConfig(flags["registry-config"] || defaultDockerConfigPath());
    const hosts = [...Object.keys(cfg.auths ?? {}), ...Object.keys(cfg.credHelpers ?? {})].map((k) =>
      /^https?:\/\/(index\.)?docker\.io\/v1\/?$/.test(k) ? "docker.io" : k.replace(/^https?:\/\//, "").replace(/\/.*$/, ""),
    );
    return [...new Set(hosts)].filter(Boolean).sort();
  } catch {
    return [];
  }
}

/** Namespaces the current (or given) context can list; nothing if the API server is unreachable (2 s). */
async function namespaces(kubeFlags: Record<string, string>): Promise<string[]> {
  try {
    const { KubeClient } = await import("../kube/client.ts");
    const kube = KubeClient.fromOptions({ kubeconfig: kubeFlags.kubeconfig, context: kubeFlags.context, requestTimeoutMs: 2000 });
    const list = await Promise.race([kube.list("v1", "Namespace"), new Promise<never>((_, rej) => setTimeout(() => rej(new Error("timeout")), 2500))]);
    return list.map((n) => n.metadata?.name ?? "").filter(Boolean).sort();
  } catch {
    return [];
  }
}

/** Values for a command's arguments (e.g. Helm repository names): called with the words given so far. */
export type ArgCompleter = (a: { command: string[]; args: string[]; current: string }) => Promise<string[] | undefined>;

/** The candidates for `words` (the last one is being completed; "" = a new word). */
export async function complete(root: AnyCommand, words: string[], globals: ArgsDef, builtins: Record<string, string> = {}, completeArgs?: ArgCompleter): Promise<Completion> {
  const current = words.length ? words[words.length - 1]! : "";
  const done = words.slice(0, -1);
  // walk the command chain over the finished words
  let cmd = root;
  const kubeFlags: Record<string, string> = {};
  let expectValueOf: string | undefined;
  let atRoot = true;
  const command: string[] = [];
  const given: string[] = []; // words given to the command itself (not subcommand names)
  let defs: ArgsDef = { ...globals, ...((await resolveValue(cmd.args)) ?? {}) };
  for (let i = 0; i < done.length; i++) {
    const w = done[i]!;
    if (expectValueOf) {
      if (["kubeconfig", "context", "registry-config"].includes(expectValueOf)) kubeFlags[expectValueOf] = w;
      expectValueOf = undefined;
      continue;
    }
    if (w === "--") break;
    if (w.startsWith("-") && w !== "-") {
      const name = w.replace(/^--?/, "").split("=")[0]!;
      const info = flagTable(defs).get(name);
      if (w.includes("=")) {
        if (info && ["kubeconfig", "context", "registry-config"].includes(info.name)) kubeFlags[info.name] = w.slice(w.indexOf("=") + 1);
        continue;
      }
      if (info && info.type !== "boolean" && !optionalValueFlags(defs).has(info.name)) expectValueOf = info.name;
      continue;
    }
    const subs = await resolveValue(cmd.subCommands);
    if (subs && Object.hasOwn(subs, w)) {
      cmd = (await resolveValue(subs[w])) as AnyCommand;
      command.push(w);
      defs = { ...globals, ...((await resolveValue(cmd.args)) ?? {}) };
      atRoot = false;
    } else if (atRoot && w === "completion") {
      return { candidates: i === done.length - 1 ? SHELLS.filter((s) => s.startsWith(current)) : [], directive: Directive.NoFileComp };
    } else given.push(w);
  }
  const table = flagTable(defs);
  // a flag's value: `--context <TAB>` or `--context=<TAB>`
  const eq = current.startsWith("-") ? current.indexOf("=") : -1;
  const valueFlag = expectValueOf ?? (eq > 0 ? table.get(current.slice(0, eq).replace(/^--?/, ""))?.name : undefined);
  if (valueFlag) {
    // `--output=<TAB>`: the values alone, as cobra answers — the shell completes the word after "=" (bash and zsh
    // split it there), so "--output=json" would become "--output=--output=json"
    const typed = expectValueOf ? current : current.slice(eq + 1);
    const r = await flagValues(valueFlag, (defs as Record<string, any>)[valueFlag] ?? {}, kubeFlags);
    if (!r) return { candidates: [], directive: Directive.Default };
    const hits = r.candidates.filter((c) => c.startsWith(typed));
    // "jsonpath=" takes its template right after the "=": no space when that is the only candidate left
    return { candidates: hits, directive: r.directive | (hits.length && hits.every((c) => c.endsWith("=")) ? Directive.NoSpace : 0) };
  }
  if (current.startsWith("-")) {
    const out: string[] = [];
    for (const [name, def] of Object.entries(defs as Record<string, any>)) {
      if (def.type === "positional") continue;
      const long = `--${name}`;
      if (long.startsWith(current)) out.push(describe(long, def.description));
      for (const a of [def.alias ?? []].flat() as string[]) if (a.length === 1 && `-${a}` === current) out.push(describe(`-${a}`, def.description));
    }
    return { candidates: out, directive: Directive.NoFileComp };
  }
  const positionals = Object.values(defs as Record<string, any>).filter((d) => d.type === "positional");
  const takesArgs = !!cmd.run && positionals.length > 0;
  // an argument that names a registry (login/logout REGISTRY): the hosts of docker config.json, never files
  const hint = String(positionals[Math.min(given.length, positionals.length - 1)]?.valueHint ?? "");
  if (takesArgs && given.length < positionals.length && /^(REGISTRY|HOST)\b/.test(hint)) {
    return { candidates: (await registryHosts(kubeFlags)).filter((h) => h.startsWith(current)), directive: Directive.NoFileComp };
  }
  // a command that takes arguments and has subcommands (helm addon-push SOURCE… REPO | package): after its first
  // argument, or with nothing typed yet, complete files; subcommands only for a prefix of one
  if (takesArgs && (given.length > 0 || current === "")) {
    // values the plugin knows (repository names) when the word does not look like a path; else the shell's files
    const known = completeArgs && !/[./~]/.test(current) ? ((await completeArgs({ command, args: given, current }).catch(() => undefined)) ?? []) : [];
    const hits = known.filter((k) => k.startsWith(current));
    return hits.length ? { candidates: hits, directive: Directive.NoFileComp } : { candidates: [], directive: Directive.Default };
  }
  const subs = await resolveValue(cmd.subCommands);
  const names: string[] = [];
  if (subs) {
    for (const [name, c] of Object.entries(subs)) {
      if (!name.startsWith(current)) continue;
      const summary = typeof c === "function" && typeof (c as unknown as { summary?: string }).summary === "string" ? (c as unknown as { summary: string }).summary : ((await resolveValue((c as AnyCommand).meta)) as { description?: string } | undefined)?.description;
      names.push(describe(name, summary));
    }
  }
  if (atRoot) for (const [name, summary] of Object.entries(builtins)) if (name.startsWith(current)) names.push(describe(name, summary));
  if (names.length) return { candidates: names, directive: Directive.NoFileComp };
  return { candidates: [], directive: takesArgs ? Directive.Default : Directive.NoFileComp };
}

export function formatCompletion(c: Completion): string {
  return c.candidates.map((l) => l + "\n").join("") + `:${c.directive}\n`;
}

/** The `completion SHELL` script for an executable `prog` (e.g. kubectl-violet, helm-addon-push). */
export function completionScript(shell: string, prog: string): string {
  const fn = `__${prog.replace(/[^A-Za-z0-9]/g, "_")}_complete`;
  switch (shell) {
    case "bash":
      return `# bash completion for ${prog}: source <(${prog} completion bash)
${fn}() {
  local out directive i w joined=0
  # bash splits "--output=json" into "--output" "=" "json" (COMP_WORDBREAKS): join them back, as cobra's scripts do;
  # __complete answers the values after the "=", which is the word bash completes
  local -a words=()
  for ((i = 0; i <= COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ $w == "=" && \${#words[@]} -gt 1 && \${words[-1]} == -* ]]; then words[-1]+="="; joined=1; continue; fi
    if (( joined )); then words[-1]+="$w"; joined=0; continue; fi
    words+=("$w")
  done
  local cur=\${words[-1]}
  out=$("\${words[0]}" __complete "\${words[@]:1:\${#words[@]}-2}" "$cur" 2>/dev/null) || return
  directive=\${out##*:}
  out=\${out%:*}
  local IFS=$'\\n'
  COMPREPLY=()
  local line
  for line in $out; do COMPREPLY+=("\${line%%$'\\t'*}"); done
  if (( directive & ${Directive.NoSpace} )); then compopt -o nospace 2>/dev/null; fi
  if (( \${#COMPREPLY[@]} == 0 )) && ! (( directive & ${Directive.NoFileComp} )); then
    compopt -o default 2>/dev/null
  fi
}
complete -F ${fn} ${prog}
`;
    case "zsh":
      return `#compdef ${prog}
# zsh completion for ${prog}: source <(${prog} completion zsh)
${fn}() {
  local -a lines completions
  local out directive line
  out=$("\${words[1]}" __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return 1
  lines=("\${(@f)out}")
  directive=\${lines[-1]#:}
  lines=("\${(@)lines[1,-2]}")
  for line in "\${lines[@]}"; do completions+=("\${line//:/\\\\:}"); done
  completions=("\${(@)completions//$'\\t'/:}")
  if (( \${#completions} > 0 )); then
    if (( directive & ${Directive.NoSpace} )); then _describe -t values 'values' completions -S ''; else _describe -t values 'values' completions; fi
  elif ! (( directive & ${Directive.NoFileComp} )); then
    _files
  fi
}
if [ "$funcstack[1]" = "_${prog}" ]; then ${fn} "$@"; else compdef ${fn} ${prog}; fi
`;
    case "fish":
      return `# fish completion for ${prog}: ${prog} completion fish | source
function ${fn}
    set -l args (commandline -opc)
    set -e args[1]
    set -l out (${prog} __complete $args (commandline -ct) 2>/dev/null)
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (count $out) -eq 0; and test (math "bitand($directive, ${Directive.NoFileComp})") -eq 0
        __fish_complete_path (commandline -ct)
        return
    end
    printf '%s\\n' $out
end
complete -c ${prog} -f -a '(${fn})'
`;
    case "powershell":
      return `# PowerShell completion for ${prog}: ${prog} completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName '${prog}' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
    if ($wordToComplete -ne '' -and $words.Count -gt 0) { $words = $words[0..($words.Count - 2)] }
    $out = @(& '${prog}' __complete @words "$wordToComplete" 2>$null)
    if ($out.Count -eq 0) { return }
    $directive = [int]($out[-1].TrimStart(':'))
    $out = if ($out.Count -gt 1) { $out[0..($out.Count - 2)] } else { @() }
    if ($out.Count -eq 0 -and -not ($directive -band ${Directive.NoFileComp})) { return $null }
    foreach ($line in $out) {
        $parts = $line -split "\`t", 2
        $desc = if ($parts.Count -gt 1 -and $parts[1]) { $parts[1] } else { $parts[0] }
        [System.Management.Automation.CompletionResult]::new($parts[0], $parts[0], 'ParameterValue', $desc)
    }
}
`;
    default:
      throw new Error(`unknown shell ${shell}`);
  }
}

export const SHELLS = ["bash", "zsh", "fish", "powershell"] as const;
