#!/bin/sh
# Prints the Debian packages of the named groups of scripts/system-packages.txt on one line, space-separated,
# each once, in the file's order. Exit 2 on an unknown group or a malformed line.
#   scripts/system-packages.sh build test      ->  libopenblas-dev libssl-dev zlib1g-dev pkg-config curl openssl
# POSIX sh and awk only (docker/Dockerfile's build stage parses the same file with the same rules).
set -eu
list="$(dirname "$0")/system-packages.txt"
if [ $# -eq 0 ]; then
  echo "usage: $0 GROUP...   (groups in $list: $(sed -n 's/^[ 	]*\([A-Za-z0-9_-]*\)[ 	]*:.*/\1/p' "$list" | sort -u | tr '\n' ' '))" >&2
  exit 2
fi
awk -v groups="$*" '
BEGIN { n = split(groups, wanted, " "); for (i = 1; i <= n; i++) want[wanted[i]] = 1 }
{ sub(/#.*/, "") }
/^[ \t]*$/ { next }
{
  colon = index($0, ":")
  group = substr($0, 1, colon - 1); gsub(/[ \t]/, "", group)
  if (colon == 0 || group == "") { printf "%s:%d: expected \"group: packages...\"\n", FILENAME, FNR > "/dev/stderr"; bad = 1; next }
  seen[group] = 1
  if (!(group in want)) next
  m = split(substr($0, colon + 1), packages, " ")
  for (j = 1; j <= m; j++) if (!(packages[j] in printed)) { printed[packages[j]] = 1; out = out (out == "" ? "" : " ") packages[j] }
}
END {
  for (i = 1; i <= n; i++) if (!(wanted[i] in seen)) { printf "%s: no group %s\n", FILENAME, wanted[i] > "/dev/stderr"; bad = 1 }
  if (bad) exit 2
  print out
}' "$list"
