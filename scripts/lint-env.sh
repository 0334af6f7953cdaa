# Sourced by scripts/lint-kubernetes and scripts/lint-dockerfile: their own Python environment
# (.venv-lint), with the pinned tools of scripts/lint-requirements.txt. Needs only python3.

SG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SG_LINT_VENV="${SG_LINT_VENV:-$SG_ROOT/.venv-lint}"

. "$SG_ROOT/scripts/venv.sh"

# Creates .venv-lint and installs the pinned tools, once (again when the pins change).
ensure_lint_venv() {
  venv_from "$SG_LINT_VENV" "$SG_ROOT/scripts/lint-requirements.txt" "the linters"
}
