# Sourced by scripts/lint-kubernetes and scripts/lint-dockerfile: their own Python environment
# (.venv-lint), with the pinned tools of scripts/lint-requirements.txt. Needs only python3.

SG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SG_LINT_VENV="${SG_LINT_VENV:-$SG_ROOT/.venv-lint}"

# Creates .venv-lint and installs the pinned tools, once (again when the pins change).
ensure_lint_venv() {
  local req="$SG_ROOT/scripts/lint-requirements.txt" stamp="$SG_LINT_VENV/.requirements"
  if [ ! -x "$SG_LINT_VENV/bin/python" ]; then
    echo "==> creating $SG_LINT_VENV" >&2
    python3 -m venv "$SG_LINT_VENV"
  fi
  if ! cmp -s "$req" "$stamp"; then
    echo "==> installing the linters (scripts/lint-requirements.txt)" >&2
    if ! "$SG_LINT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"; then
      echo "error: cannot install the linters of scripts/lint-requirements.txt from PyPI" >&2
      return 1
    fi
    cp "$req" "$stamp"
  fi
}
