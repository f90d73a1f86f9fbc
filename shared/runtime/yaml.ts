// YAML text → plain data, with the runtime's native reader where there is one. Bun.YAML reads kube-prometheus-stack's
// 200 KB values.yaml in ~5 ms and ~2 MiB; the yaml package took 0.3–1 s and ~30 MiB of garbage for it (most of a cold
// chart discovery's CPU and of its peak RSS). The native reader is used only for text without the constructs on
// which the two readers disagree (merge keys, tags, several documents, directives, null keys); whatever it refuses
// goes to the yaml package, whose result or error is then the answer, so errors read as before. One difference is
// kept on purpose: a key repeated in one mapping keeps its last value, as Helm reads it (the yaml package refused
// the whole file). Checked equal to the yaml package on every values file and rendered document of the corpus.
import { parse } from "yaml";
import { nativeYamlParse } from "./adapter.ts";

const native = nativeYamlParse;
const DISAGREE = /<<[ \t]*:|(?:^|[\s:[{,-])!|\n(?:---|\.\.\.)(?:[ \t\r]|$)|^%|^[ \t-]*(?:~|null|Null|NULL)?[ \t]*:(?:[ \t\r]|$)|__proto__/m;

/** One YAML document as plain data (`yaml`'s parse() where the native reader does not apply). */
export function parseYaml(text: string): unknown {
  if (native && !DISAGREE.test(text)) {
    try {
      return native(text);
    } catch {
      // the yaml package says what is wrong
    }
  }
  return parse(text);
}
