# Sourced by scripts/test and scripts/demo: the Python environment and the local AWS emulator.
# Needs only python3 (3.9+); everything else is installed into .venv on first use.

SG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SG_VENV="${SG_VENV:-$SG_ROOT/.venv}"
. "$SG_ROOT/scripts/venv.sh"

# Creates .venv and installs the emulator's pinned packages, once (again when the pins change).
ensure_venv() {
  venv_from "$SG_VENV" "$SG_ROOT/tests/emulator/requirements.txt" "the emulator's Python packages"
}

# Starts the extended moto emulator on a free loopback port, exports SG_EMULATOR_URL, and stops
# it when the calling script exits.
start_emulator() {
  SG_EMULATOR_DIR="$(mktemp -d)"
  "$SG_VENV/bin/python" "$SG_ROOT/tests/emulator/sg_emulator.py" --host 127.0.0.1 --port 0 \
    --port-file "$SG_EMULATOR_DIR/url" >"$SG_EMULATOR_DIR/log" 2>&1 &
  SG_EMULATOR_PID=$!
  trap stop_emulator EXIT
  local i
  for i in $(seq 1 100); do
    if [ -s "$SG_EMULATOR_DIR/url" ]; then
      SG_EMULATOR_URL="$(cat "$SG_EMULATOR_DIR/url")"
      export SG_EMULATOR_URL
      echo "==> emulator at $SG_EMULATOR_URL" >&2
      return 0
    fi
    if ! kill -0 "$SG_EMULATOR_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "error: the emulator did not start; its log:" >&2
  cat "$SG_EMULATOR_DIR/log" >&2
  return 1
}

stop_emulator() {
  if [ -n "${SG_EMULATOR_PID:-}" ]; then
    kill "$SG_EMULATOR_PID" 2>/dev/null || true
    wait "$SG_EMULATOR_PID" 2>/dev/null || true
  fi
  [ -n "${SG_EMULATOR_DIR:-}" ] && rm -rf "$SG_EMULATOR_DIR"
}
