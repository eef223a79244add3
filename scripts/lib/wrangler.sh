# shellcheck shell=bash
# Helpers to run `wrangler dev --local` instances from scripts and tests.
# Source it: `. scripts/lib/wrangler.sh` (after `. scripts/env.sh`, so that wrangler is on
# PATH and telemetry / cf.json fetching are off).
#
#   start_wrangler NAME CONFIG PORT INSPECTOR_PORT PERSIST_DIR LOGFILE [extra wrangler args]
#   stop_wrangler NAME
#   free_port
#
# Each instance runs in its own session / process group (setsid), so stop_wrangler can
# signal wrangler's node process and the workerd it spawned together; killing only the
# node (or npx) process would orphan workerd. The group id is kept in
# $EDAP_WRANGLER_STATE_DIR/NAME.pgid.
#
# Tunables (environment):
#   EDAP_WRANGLER_STATE_DIR   where pgid files live (default ${TMPDIR:-/tmp}/edap-wrangler-$UID)
#   WRANGLER_START_TIMEOUT    seconds to wait for the port to answer HTTP (default 60)
#   WRANGLER_STOP_TIMEOUT     seconds to wait after SIGINT before SIGKILL (default 10)
#   WRANGLER_BIN              wrangler executable (default: `wrangler` on PATH)
# The built worker is expected to exist: set SKIP_WORKER_BUILD=1 (exported by the caller)
# when the wrangler config guards its [build] command with it.

_wrangler_state_dir() {
  local d="${EDAP_WRANGLER_STATE_DIR:-${TMPDIR:-/tmp}/edap-wrangler-${UID:-$(id -u)}}"
  mkdir -p "$d"
  printf '%s\n' "$d"
}

# Prints an unused TCP port on 127.0.0.1 (chosen by the kernel).
free_port() {
  python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# _http_answers PORT: true when something on 127.0.0.1:PORT answers HTTP (any status).
_http_answers() {
  local code
  if command -v curl >/dev/null; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null)" || true
  else
    code="$(python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
)" || true
  fi
  [[ -n "$code" && "$code" != "000" ]]
}

# _pgid_alive PGID: true while any process of the group exists.
_pgid_alive() {
  kill -0 -- "-$1" 2>/dev/null
}

start_wrangler() {
  if (($# < 6)); then
    echo "usage: start_wrangler NAME CONFIG PORT INSPECTOR_PORT PERSIST_DIR LOGFILE [args...]" >&2
    return 2
  fi
  local name="$1" config="$2" port="$3" inspector_port="$4" persist_dir="$5" logfile="$6"
  shift 6
  local state pgid_file wrangler timeout
  state="$(_wrangler_state_dir)"
  pgid_file="$state/$name.pgid"
  wrangler="${WRANGLER_BIN:-$(command -v wrangler || true)}"
  timeout="${WRANGLER_START_TIMEOUT:-60}"

  if [[ -z "$wrangler" ]]; then
    echo "start_wrangler: wrangler not found (run scripts/setup, source scripts/env.sh)" >&2
    return 1
  fi
  if [[ ! -f "$config" ]]; then
    echo "start_wrangler: no such config: $config" >&2
    return 1
  fi
  if [[ -f "$pgid_file" ]] && _pgid_alive "$(cat "$pgid_file")"; then
    echo "start_wrangler: '$name' is already running (pgid $(cat "$pgid_file"))" >&2
    return 1
  fi
  if _http_answers "$port"; then
    echo "start_wrangler: port $port is already in use" >&2
    return 1
  fi
  (umask 077 && mkdir -p "$persist_dir") && chmod 700 "$persist_dir"
  mkdir -p "$(dirname "$logfile")"
  rm -f "$pgid_file"

  # The inner bash becomes session and group leader (setsid), writes its pid - which is
  # then the process group id - and execs wrangler in place, so the pid stays the same.
  # umask 077: the Durable Object databases wrangler writes hold private keys and tokens,
  # so they are readable by their owner only.
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 'umask 077; echo $$ > "$0"; exec "$@"' "$pgid_file" \
    "$wrangler" dev --local \
    --config "$config" \
    --ip 127.0.0.1 --port "$port" \
    --inspector-port "$inspector_port" \
    --persist-to "$persist_dir" \
    --show-interactive-dev-session=false \
    "$@" </dev/null >"$logfile" 2>&1 &
  disown "$!" 2>/dev/null || true # no job-status noise ("Killed ...") from the caller's shell

  local start=$SECONDS pgid=""
  while ((SECONDS - start < timeout)); do
    [[ -z "$pgid" && -s "$pgid_file" ]] && pgid="$(cat "$pgid_file")"
    if [[ -n "$pgid" ]] && ! _pgid_alive "$pgid"; then
      echo "start_wrangler: '$name' exited during start-up; last log lines ($logfile):" >&2
      tail -n 30 "$logfile" >&2 || true
      rm -f "$pgid_file"
      return 1
    fi
    # Up means wrangler said so, not only that the port answers: with a custom build,
    # wrangler rebuilds and reloads once more when its file watcher is ready, and until its
    # "Ready on" line its proxy already answers, then fails requests with "Your worker
    # restarted mid-request" (503).
    if [[ -n "$pgid" ]] && grep -aqF "Ready on http://127.0.0.1:$port" "$logfile" 2>/dev/null &&
      _http_answers "$port"; then
      echo "wrangler '$name' up on 127.0.0.1:$port (pgid $pgid, $((SECONDS - start)) s)"
      return 0
    fi
    sleep 0.2
  done
  echo "start_wrangler: '$name' did not answer on port $port within ${timeout}s; last log lines:" >&2
  tail -n 30 "$logfile" >&2 || true
  [[ -n "$pgid" ]] && stop_wrangler "$name" >/dev/null 2>&1
  return 1
}

stop_wrangler() {
  if (($# != 1)); then
    echo "usage: stop_wrangler NAME" >&2
    return 2
  fi
  local name="$1" state pgid_file pgid timeout i
  state="$(_wrangler_state_dir)"
  pgid_file="$state/$name.pgid"
  timeout="${WRANGLER_STOP_TIMEOUT:-10}"
  if [[ ! -s "$pgid_file" ]]; then
    echo "stop_wrangler: '$name' is not running (no $pgid_file)" >&2
    return 0
  fi
  pgid="$(cat "$pgid_file")"
  if [[ ! "$pgid" =~ ^[0-9]+$ ]] || ((pgid <= 1)); then
    echo "stop_wrangler: bad pgid '$pgid' in $pgid_file" >&2
    rm -f "$pgid_file"
    return 1
  fi
  if _pgid_alive "$pgid"; then
    kill -INT -- "-$pgid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
      _pgid_alive "$pgid" || break
      sleep 0.1
    done
    if _pgid_alive "$pgid"; then
      echo "stop_wrangler: '$name' ignored SIGINT for ${timeout}s, sending SIGKILL" >&2
      kill -KILL -- "-$pgid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        _pgid_alive "$pgid" || break
        sleep 0.1
      done
    fi
  fi
  rm -f "$pgid_file"
  if _pgid_alive "$pgid"; then
    echo "stop_wrangler: process group $pgid of '$name' still alive" >&2
    return 1
  fi
  echo "wrangler '$name' stopped"
}
