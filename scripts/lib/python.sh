# Shared by scripts/run and scripts/test: find Python interpreters and keep a venv installed.
# shellcheck shell=bash

# Print "MAJOR.MINOR PATH" for every working Python 3.11+ on PATH or under pyenv, newest first.
list_pythons() {
  local candidates=() dir
  for name in python3.14 python3.13 python3.12 python3.11 python3 python; do
    command -v "$name" >/dev/null 2>&1 && candidates+=("$(command -v "$name")")
  done
  if command -v pyenv >/dev/null 2>&1; then
    dir="$(pyenv root 2>/dev/null)/versions"
    for p in "$dir"/3.*/bin/python3; do [ -x "$p" ] && candidates+=("$p"); done
  fi
  for p in "${candidates[@]}"; do
    # A pyenv shim of a version that is not selected fails here and is skipped.
    "$p" -c 'import sys, venv; v = sys.version_info; sys.exit(0 if v >= (3, 11) else 1); ' \
      >/dev/null 2>&1 || continue
    echo "$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])') $p"
  done | sort -t. -k1,1nr -k2,2nr -u | awk '!seen[$1]++'
}

# newest_python MIN_MINOR: the path of the newest Python 3.MIN_MINOR or later, or nothing.
newest_python() {
  list_pythons | awk -v min="$1" '{ split($1, v, "."); if (v[2] >= min) { print $2; exit } }'
}

# ensure_venv DIR PYTHON EXTRAS [PIP_ARGS...]: create DIR with PYTHON and install the project
# editable with EXTRAS (e.g. "[test]" or "") and PIP_ARGS, again only when pyproject.toml or the
# arguments changed.
ensure_venv() {
  local dir="$1" python="$2" extras="$3"; shift 3
  local stamp="$dir/.mitmtape-installed" want
  want="$(cat pyproject.toml; echo "$extras $*")"
  if [ ! -x "$dir/bin/python" ]; then
    "$python" -m venv "$dir"
  fi
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check -e ".$extras" "$@"
    printf '%s' "$want" > "$stamp"
  fi
}
