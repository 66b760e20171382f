#!/usr/bin/env bash
# The README's two commands, exactly as a new user runs them: a fresh clone of this commit in a temporary
# directory, a clean environment (HOME and PATH only: no CONSENT_HUB_* or other variables), and no service
# started beforehand. `npm install`, `npm test`, then `npm start` until it answers, Ctrl-C (SIGINT to its
# process group, as a terminal sends it), and no process left behind. Prints how long each step took.
#
# Reuses what a developer's machine keeps between runs: ~/.npm (npm's cache) and ~/.cache (the Temporal CLI).
# Linux only (reads /proc to find leftover processes).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse HEAD)
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes are not tested; the clone is of $commit" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/consent-hub-readme-XXXXXX")
clone="$work/consent-hub"
start_pid=""
cleanup() {
  if [ -n "$start_pid" ] && kill -0 "$start_pid" 2>/dev/null; then kill -KILL -- "-$start_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git clone --quiet "$repo" "$clone"
git -C "$clone" checkout --quiet --detach "$commit"

# A fresh machine's PATH, plus where node (and, if present, Go for building the Temporal CLI) live.
clean_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
for tool in node go; do
  if command -v "$tool" >/dev/null 2>&1; then clean_path="$(dirname "$(command -v "$tool")"):$clean_path"; fi
done
clean() { env -i HOME="$HOME" PATH="$clean_path" "$@"; }

timings=()
timed() {
  local name=$1
  shift
  local started=$SECONDS
  echo "== $name"
  "$@"
  timings+=("$(printf '%-28s %4d s' "$name" $((SECONDS - started)))")
}

timed "npm install" clean bash -c "cd '$clone' && npm install --no-audit --no-fund"

# npm start's ports with its default flags (Temporal, its UI, the sandboxes, the intake API, both metrics
# endpoints, the codec server), from the list dev itself checks (dev/run-dev.ts devPorts), read from the clone
# once npm install has run (the checkout this script runs from may have no node_modules). Something already
# there would make npm start fail for a reason that has nothing to do with this commit.
ports_free() {
  local dev_ports port
  dev_ports=$(clean bash -c "cd '$clone' && node_modules/.bin/tsx dev/print-dev-ports.ts")
  if [ -z "$dev_ports" ]; then
    echo "could not list npm start's ports (dev/print-dev-ports.ts)" >&2
    return 1
  fi
  for port in $dev_ports; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "port $port is in use (another npm start?); stop it first: npm start needs it" >&2
      return 1
    fi
  done
}

ports_free
timed "npm test" clean bash -c "cd '$clone' && npm test"

# npm start in a session and process group of its own, like a terminal's foreground job.
log="$work/npm-start.log"
wait_until_ready() {
  local deadline=$((SECONDS + 600))
  until grep -q 'consent-hub dev is running' "$log" 2>/dev/null; do
    if ! kill -0 "$start_pid" 2>/dev/null; then
      echo "npm start exited before it was ready:" >&2
      tail -n 40 "$log" >&2
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "npm start was not ready after 600 s:" >&2
      tail -n 40 "$log" >&2
      return 1
    fi
    sleep 1
  done
}
start() {
  (cd "$clone" && exec setsid env -i HOME="$HOME" PATH="$clean_path" npm start >"$log" 2>&1) &
  start_pid=$!
  sleep 1
  # setsid made npm's process the leader of a new group, so the group id is its pid (Ctrl-C goes there).
  [ "$(ps -o pgid= -p "$start_pid" | tr -d ' ')" = "$start_pid" ] ||
    { echo "npm start did not get a process group of its own" >&2; return 1; }
  wait_until_ready
}
timed "npm start (until it answers)" start

dev_json="$clone/.consent-hub/dev.json"
answers() {
  [ -f "$dev_json" ] || { echo "npm start did not write $dev_json" >&2; return 1; }
  local read_json='const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));'
  local temporal_cli temporal_address api_url
  temporal_cli=$(clean node -e "$read_json console.log(d.temporal.cli)" "$dev_json")
  temporal_address=$(clean node -e "$read_json console.log(d.temporal.address)" "$dev_json")
  api_url=$(clean node -e "$read_json console.log(d.api.url)" "$dev_json")
  clean "$temporal_cli" operator cluster health --address "$temporal_address" | grep -q SERVING ||
    { echo "Temporal at $temporal_address does not answer" >&2; return 1; }
  clean node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error(`HTTP ${r.status}`); console.log(await r.text()); })' \
    "$api_url/healthz" >/dev/null || { echo "the intake API at $api_url does not answer" >&2; return 1; }
  echo "dev.json written; Temporal $temporal_address serving; intake API $api_url/healthz answers"
}
timed "dev.json, Temporal, API" answers

leftovers() {
  # Everything npm start ran has its working directory in the clone (the Temporal server included).
  local pid dir found=""
  for pid in /proc/[0-9]*; do
    dir=$(readlink "$pid/cwd" 2>/dev/null) || continue
    case "$dir" in "$clone" | "$clone"/*) found="$found ${pid#/proc/}" ;; esac
  done
  echo "$found"
}
stop() {
  local running
  running=$(leftovers)
  # The same check that must find nothing afterwards sees npm start's processes now.
  [ -n "$running" ] || { echo "found no process of npm start in $clone" >&2; return 1; }
  echo "npm start runs as $(wc -w <<<"$running") processes; sending SIGINT to its group"
  kill -INT -- "-$start_pid"
  local deadline=$((SECONDS + 60))
  while kill -0 "$start_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 1; done
  if kill -0 "$start_pid" 2>/dev/null; then
    echo "npm start did not stop within 60 s of SIGINT" >&2
    return 1
  fi
  local left
  for _ in 1 2 3 4 5; do
    left=$(leftovers)
    [ -z "$left" ] && break
    sleep 1
  done
  if [ -n "$left" ]; then
    echo "processes left after npm start stopped:" >&2
    ps -o pid,args -p "${left// /,}" >&2 || true
    kill -KILL $left 2>/dev/null || true
    return 1
  fi
  echo "npm start stopped on SIGINT; no process left"
}
timed "Ctrl-C, nothing left" stop

echo "== README commands from a fresh clone of $commit"
printf '   %s\n' "${timings[@]}"
