#!/usr/bin/env bash
# Checks, before `npm test` lints, builds or starts a single server, that this machine has what
# README.md's "What you need" lists, and names what is missing with the command that installs it.
# Bash builtins and two short calls of node, so it takes a fraction of a second;
# test/preflight.test.ts runs it with parts taken away.
set -uo pipefail

root="$(cd "${BASH_SOURCE[0]%/*}/.." && pwd)"
# The same rules as the code that uses each tool: test/browser/chromium.ts (CHROMIUM_PATH) and
# src/dev/stack.ts (TOOLS_DIR; it builds the servers only when one is missing).
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
tools_bin="${TOOLS_DIR:-$root/.tools}/bin"
min_go=(1 24)

found=()
missing=()
apt=()
lack() { missing+=("  - $1: $2."$'\n'"    Get it: $3"); }

# Node.js against package.json's engines.node (alternatives of ^X.Y.Z or >=X.Y.Z joined by ||).
if ! command -v node >/dev/null; then
  lack "Node.js (not on PATH)" "npm test runs on it" "Debian 13: apt-get install -y nodejs npm; elsewhere see nodejs.org"
else
  node_check='
    const [version, file] = process.argv.slice(1);
    const range = require(file).engines.node;
    const v = version.replace(/^v/, "").split(".").map(Number);
    const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
    const ok = range.split("||").every((alt) => /^\s*(\^|>=)?\s*\d+\.\d+\.\d+\s*$/.test(alt)) && range.split("||").some((alt) => {
      const [, op, ...min] = /^\s*(\^|>=)?\s*(\d+)\.(\d+)\.(\d+)\s*$/.exec(alt);
      const m = min.map(Number);
      return op === ">=" ? cmp(v, m) >= 0 : op === "^" ? v[0] === m[0] && cmp(v, m) >= 0 : cmp(v, m) === 0;
    });
    console.log(`${ok ? "ok" : "no"}\t${v.join(".")}\t${range}`);'
  # The version as `node --version` reports it, as a reader would check it.
  IFS=$'\t' read -r node_ok node_version node_range < <(node -e "$node_check" "$(node --version)" "$root/package.json")
  if [[ "$node_ok" == ok ]]; then
    found+=("Node.js $node_version")
  else
    lack "Node.js $node_range (this is $node_version)" "package.json engines" "Debian 13: apt-get install -y nodejs npm; elsewhere a release in that range from nodejs.org"
  fi
fi

if [[ ! -e "$root/node_modules/.bin/jest" ]]; then
  lack "the npm packages (node_modules has no jest)" "lint, tsc and jest come from them" "npm ci"
fi

# Go builds the Temporal CLI and FerretDB (scripts/provision.sh): needed only until they are built.
if [[ ! -e "$tools_bin/temporal" || ! -e "$tools_bin/ferretdb" ]]; then
  why="scripts/provision.sh builds the Temporal CLI and FerretDB into $tools_bin with it"
  fix="Debian 13: apt-get install -y golang-go; elsewhere Go ${min_go[0]}.${min_go[1]} or newer from go.dev"
  if ! go="$(command -v go)"; then
    lack "Go ${min_go[0]}.${min_go[1]} or newer (not on PATH)" "$why" "$fix"
    apt+=(golang-go)
  elif [[ "$("$go" version 2>/dev/null)" =~ go([0-9]+)\.([0-9]+)(\.[0-9]+)? ]] &&
    (( BASH_REMATCH[1] > min_go[0] || (BASH_REMATCH[1] == min_go[0] && BASH_REMATCH[2] >= min_go[1]) )); then
    found+=("Go ${BASH_REMATCH[0]#go}")
  else
    lack "Go ${min_go[0]}.${min_go[1]} or newer ($go is ${BASH_REMATCH[0]:-of unknown version})" "$why" "$fix"
  fi
fi

if [[ -x "$chromium" && ! -d "$chromium" ]]; then
  found+=(Chromium)
else
  lack "Chromium (nothing executable at $chromium)" "the Manage App browser test drives it" \
    "apt-get install -y chromium, or set CHROMIUM_PATH to a Chromium executable"
  apt+=(chromium)
fi

for tool in curl jq openssl; do
  if command -v "$tool" >/dev/null; then
    found+=("$tool")
  else
    lack "$tool (not on PATH)" "the docs test runs the docs' shell commands with it" "apt-get install -y $tool"
    apt+=("$tool")
  fi
done

if (( ${#missing[@]} == 0 )); then
  printf -v list '%s, ' "${found[@]}"
  echo "preflight: ready (${list%, })"
  exit 0
fi
{
  echo 'preflight: npm test needs what this machine lacks (see README.md, "What you need"):'
  printf '%s\n' "${missing[@]}"
  if (( ${#apt[@]} > 1 )); then echo "On Debian, these at once: apt-get update && apt-get install -y ${apt[*]}"; fi
  echo 'Nothing was started.'
} >&2
exit 1
