# Sourced by the scripts that need Python tools: one function that keeps a virtual environment in
# step with a pinned requirements file. Needs only python3.

# venv_from DIR REQUIREMENTS WHAT: creates DIR once, and installs REQUIREMENTS into it on first
# use and again whenever the file changes (a copy kept in DIR says what was installed).
venv_from() {
  local dir="$1" req="$2" what="$3" stamp="$1/.requirements"
  if [ ! -x "$dir/bin/python" ]; then
    echo "==> creating $dir" >&2
    python3 -m venv "$dir"
  fi
  if ! cmp -s "$req" "$stamp"; then
    echo "==> installing $what ($req)" >&2
    if ! "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"; then
      echo "error: cannot install $what from PyPI ($req)" >&2
      return 1
    fi
    cp "$req" "$stamp"
  fi
}
