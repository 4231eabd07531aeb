# Shared by scripts/test and scripts/bench: system packages the tests and benchmarks use.
# shellcheck shell=bash

# The Debian packages the suite needs; installed with apt-get when missing and we are root.
SYSTEM_PACKAGES=()

ensure_system_packages() {
  local missing=()
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
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
