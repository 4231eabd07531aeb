# Shared by scripts/test and scripts/bench: programs the tests and benchmarks run.
# shellcheck shell=bash

# "COMMAND:DEBIAN_PACKAGE" pairs; a package is installed with apt-get only when its command is
# missing (a Node.js from elsewhere, say, is used as it is).
SYSTEM_COMMANDS=()

ensure_system_packages() {
  local missing=() pair
  for pair in "${SYSTEM_COMMANDS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "scripts: please install these packages: ${missing[*]}" >&2
    return 1
  fi
  echo "== apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
