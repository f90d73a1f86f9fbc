#!/bin/sh
# What an admin scripts without kubectl mirror to put a chart and its images into a registry (the yardstick of
# bench/sync.ts): helm pull, helm template | grep image:, skopeo sync of those images, helm push of the chart.
#   sh bench/admin-sync.sh HELM REPO_URL CHART VERSION DEST_HOST WORKDIR
# $REGISTRIES_CONF (optional): a containers registries.conf for skopeo (pull-through mirrors of the source registries)
set -eu
HELM=$1 REPO=$2 CHART=$3 VERSION=$4 DEST=$5 WORK=$6
mkdir -p "$WORK"
"$HELM" pull "$CHART" --repo "$REPO" --version "$VERSION" -d "$WORK"
"$HELM" template rel "$WORK/$CHART-$VERSION.tgz" | grep -E '^[[:space:]]*-?[[:space:]]*image:' \
  | sed -E 's/^[^:]*image:[[:space:]]*"?([^"[:space:]]+)"?.*$/\1/' | sort -u > "$WORK/images.txt"
# skopeo sync YAML: registry → repositories → tags
awk '{ n = index($0, "/"); host = substr($0, 1, n - 1); rest = substr($0, n + 1); t = rest; sub(/.*:/, "", t); sub(/:[^:]*$/, "", rest);
       repos[host] = repos[host] "    " rest ": [\"" t "\"]\n" }
     END { for (h in repos) printf "%s:\n  tls-verify: false\n  images:\n%s", h, repos[h] }' "$WORK/images.txt" > "$WORK/sync.yaml"
skopeo ${REGISTRIES_CONF:+--registries-conf "$REGISTRIES_CONF"} sync --src yaml --dest docker --dest-tls-verify=false --preserve-digests "$WORK/sync.yaml" "$DEST/images" >/dev/null
"$HELM" push "$WORK/$CHART-$VERSION.tgz" "oci://$DEST/charts" --plain-http >/dev/null 2>&1
