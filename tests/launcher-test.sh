#!/usr/bin/env bash
# Tests tests/redis-launcher from bash, the way any caller drives it: a coproc
# reading `url=`/`pid=` lines and writing commands. Exits non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
launcher=${NEARCACHE_LAUNCHER:-$here/redis-launcher}
cli=${NEARCACHE_REDIS_CLI:-redis-cli}

fail() {
  printf 'launcher-test: FAIL: %s\n' "$*" >&2
  exit 1
}

# Gone, or a zombie nobody has reaped yet (an orphan's parent is init).
gone() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
  [[ -z $state || $state == Z* ]]
}

wait_gone() {
  local pid=$1 i
  for ((i = 0; i < 250; i++)); do
    gone "$pid" && return 0
    sleep 0.02
  done
  return 1
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Starts the launcher as a coproc; sets lpid, to (its stdin), from (its
# stdout), url, port, pid.
start() {
  coproc LAUNCHER (exec "$launcher" "$@")
  lpid=$LAUNCHER_PID
  from=${LAUNCHER[0]}
  to=${LAUNCHER[1]}
  local k1 k2
  IFS='=' read -r -t 15 k1 url <&"$from" || fail "no url line"
  IFS='=' read -r -t 15 k2 pid <&"$from" || fail "no pid line"
  [[ $k1 == url && $k2 == pid ]] || fail "bad lines: $k1 $k2"
  [[ $url =~ ^redis://127\.0\.0\.1:([0-9]+)$ ]] || fail "bad url: $url"
  port=${BASH_REMATCH[1]}
  [[ $pid =~ ^[1-9][0-9]*$ ]] || fail "bad pid: $pid"
  ((port != 6379)) || fail "launcher used 6379"
}

# Waits for the launcher, for 20 s at most: a launcher that hangs is killed
# and fails the test (137) instead of stalling CI.
wait_launcher() {
  local rc=0 watchdog
  (sleep 20 && kill -KILL "$lpid") >/dev/null 2>&1 &
  watchdog=$!
  wait "$lpid" || rc=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  return "$rc"
}

close_and_wait() {
  exec {to}>&-
  local rc=0
  wait_launcher || rc=$?
  exec {from}<&- 2>/dev/null || true
  ((rc == 0)) || fail "launcher exited with $rc (137: it hung and was killed)"
}

echo "test: PING, restart on the same port, stop on EOF"
start
[[ $("$cli" -p "$port" PING) == PONG ]] || fail "no PONG"
"$cli" -p "$port" SET launcher:k v >/dev/null
old_pid=$pid
echo restart >&"$to"
IFS='=' read -r -t 15 k pid <&"$from" || fail "no pid after restart"
[[ $k == pid && $pid != "$old_pid" ]] || fail "bad restart reply: $k=$pid"
gone "$old_pid" || fail "old server $old_pid still running"
[[ -z $("$cli" -p "$port" GET launcher:k) ]] || fail "data survived restart"
[[ $("$cli" -p "$port" PING) == PONG ]] || fail "no PONG after restart"
close_and_wait
wait_gone "$pid" || fail "server $pid still running 5 s after EOF"
port_free "$port" || fail "port $port still answers"

echo "test: SIGTERM stops a SIGSTOPped server"
start
kill -STOP "$pid"
kill -TERM "$lpid"
rc=0
wait_launcher || rc=$?
((rc == 0)) || fail "launcher exited with $rc after SIGTERM (137: it hung and was killed)"
wait_gone "$pid" || fail "stopped server $pid survived SIGTERM"
exec {to}>&- {from}<&-

echo "test: extra arguments reach the server"
start --requirepass secret
[[ $("$cli" -p "$port" PING) == NOAUTH* ]] || fail "requirepass not applied"
[[ $("$cli" -p "$port" -a secret --no-auth-warning PING) == PONG ]] || fail "no PONG with AUTH"
echo stop >&"$to"
close_and_wait
wait_gone "$pid" || fail "server $pid survived stop"

echo "test: a server that cannot start is reported"
rc=0
out=$("$launcher" --no-such-directive 1 </dev/null 2>/dev/null) || rc=$?
((rc == 1)) || fail "bad argument gave exit $rc"
[[ -z $out ]] || fail "printed on failure: $out"

if command -v setpriv >/dev/null 2>&1; then
  echo "test: a SIGKILLed launcher takes its server along"
  start
  # The launcher cannot remove its temporary directory after SIGKILL: the
  # server runs in its data/ subdirectory.
  data_dir=$(readlink "/proc/$pid/cwd" 2>/dev/null) || data_dir=
  kill -KILL "$lpid"
  wait "$lpid" 2>/dev/null || true
  wait_gone "$pid" || fail "server $pid outlived its launcher"
  if [[ $data_dir == */nearcache-redis.*/data ]]; then
    rm -rf "${data_dir%/data}"
  fi
  exec {to}>&- {from}<&- 2>/dev/null || true
fi

echo "launcher-test: ok"
