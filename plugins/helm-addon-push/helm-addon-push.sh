#!/bin/sh
# Launcher for `helm addon-push` on Linux/macOS: the compiled binary (bin/helm-addon-push, or
# helm-addon-push/bin/helm-addon-push when Helm installed the top of a release archive) when the plugin was
# installed from a release archive, else the TypeScript sources with bun (or deno) from a checkout.
dir=$(CDPATH= cd -- "${HELM_PLUGIN_DIR:-$(dirname -- "$0")}" && pwd -P)
for bin in "$dir/bin/helm-addon-push" "$dir/helm-addon-push/bin/helm-addon-push"; do
  if [ -x "$bin" ]; then exec "$bin" "$@"; fi
done
if [ -f "$dir/main.ts" ]; then
  root=$(CDPATH= cd -- "$dir/../.." && pwd -P)
  # bun would load .env and bunfig.toml (preloads!) from the user's current folder: never
  if [ -x "$root/node_modules/.bin/bun" ]; then exec "$root/node_modules/.bin/bun" --no-env-file --config=/dev/null "$dir/main.ts" "$@"; fi
  if command -v bun >/dev/null 2>&1; then exec bun --no-env-file --config=/dev/null "$dir/main.ts" "$@"; fi
  if [ -x "$root/node_modules/.bin/deno" ]; then exec "$root/node_modules/.bin/deno" run -A "$dir/main.ts" "$@"; fi
  if command -v deno >/dev/null 2>&1; then exec deno run -A "$dir/main.ts" "$@"; fi
fi
echo "error: helm addon-push: no bin/helm-addon-push in $dir and no bun or deno to run the sources (install a release archive)" >&2
exit 1
