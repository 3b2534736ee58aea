#!/usr/bin/env bash
# Builds the real servers the local run and the tests use, from the Go module proxy, pinned.
# Binaries land in .tools/bin (git-ignored) and are reused while their version stamp matches.
# Go's module and build caches stay in the user's cache, so a fresh clone relinks in seconds.
set -euo pipefail

TEMPORAL_CLI_VERSION="v1.5.1"   # newest release whose go.mod has no replace directive (server 1.29.1)
FERRETDB_VERSION="v1.24.2"      # last FerretDB v1 release (SQLite backend)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${TOOLS_DIR:-$root/.tools}"
mkdir -p "$tools/bin" "$tools/src"

if ! command -v go >/dev/null 2>&1; then
  echo "provision: Go 1.24 or newer is required to build the Temporal CLI and FerretDB" >&2
  exit 1
fi
# Never download a Go toolchain: build with the one on this machine.
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"

# Downloads one exact module version (no version listing needed: the proxy refuses
# FerretDB's list) and prints the folder of its source.
module_dir() {
  local json
  if ! json="$(go mod download -json "$1@$2")"; then
    # The checksum database may be out of reach; the proxy still serves the exact version.
    json="$(GOSUMDB=off go mod download -json "$1@$2")"
  fi
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

fresh() { [[ -x "$tools/bin/$1" && "$(cat "$tools/bin/.$1.version" 2>/dev/null)" == "$2" ]]; }

stamp() { echo "$2" > "$tools/bin/.$1.version"; echo "provision: built $1 $2 in $(($SECONDS - $3))s"; }

if fresh temporal "$TEMPORAL_CLI_VERSION"; then
  echo "provision: temporal $TEMPORAL_CLI_VERSION ready"
else
  start=$SECONDS
  echo "provision: building the Temporal CLI $TEMPORAL_CLI_VERSION (a few minutes the first time)"
  src="$(module_dir github.com/temporalio/cli "$TEMPORAL_CLI_VERSION")"
  (cd "$src" && go build -ldflags "-X github.com/temporalio/cli/temporalcli.Version=${TEMPORAL_CLI_VERSION#v}" -o "$tools/bin/temporal" ./cmd/temporal)
  stamp temporal "$TEMPORAL_CLI_VERSION" "$start"
fi

# Our patches to FerretDB (scripts/patches/ferretdb-<version>-*.patch), applied in name order. The
# build's stamp carries their checksum, so a binary built without one of them is built again.
ferret_patches=("$root"/scripts/patches/ferretdb-"$FERRETDB_VERSION"-*.patch)
[[ -e "${ferret_patches[0]}" ]] || ferret_patches=()
ferret_stamp="$FERRETDB_VERSION"
if ((${#ferret_patches[@]})); then
  ferret_stamp+="+patches-$(cat "${ferret_patches[@]}" | sha256sum | cut -c1-12)"
fi

if fresh ferretdb "$ferret_stamp"; then
  echo "provision: ferretdb $ferret_stamp ready"
else
  start=$SECONDS
  echo "provision: building FerretDB $FERRETDB_VERSION"
  src="$(module_dir github.com/FerretDB/FerretDB "$FERRETDB_VERSION")"
  # FerretDB embeds build/version/version.txt, which the module zip leaves empty: build a stamped copy.
  work="$tools/src/ferretdb-$FERRETDB_VERSION"
  rm -rf "$work" && cp -r "$src" "$work" && chmod -R u+w "$work"
  echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
  for p in "${ferret_patches[@]}"; do
    echo "provision: applying $(basename "$p")"
    (cd "$work" && git apply "$p")
  done
  # modernc.org/sqlite uses a go:linkname that newer Go toolchains refuse without this flag.
  (cd "$work" && go build -ldflags=-checklinkname=0 -o "$tools/bin/ferretdb" ./cmd/ferretdb)
  stamp ferretdb "$ferret_stamp" "$start"
fi
