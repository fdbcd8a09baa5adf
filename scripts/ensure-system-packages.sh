#!/usr/bin/env bash
# Makes sure the Debian packages the build and tests need are present: the groups
# build and test of scripts/system-packages.txt, plus any packages named here.
# As root it installs what is missing with apt-get; otherwise it stops and
# prints the exact command to run. Usage: ensure-system-packages.sh [extra packages...]
set -euo pipefail
listed=$("$(dirname "$0")/system-packages.sh" build test)
read -r -a required <<<"$listed"
required+=("$@")
missing=()
for p in "${required[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "run:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
