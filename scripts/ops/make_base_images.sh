#!/usr/bin/env bash
# The two base images docker/Dockerfile builds FROM, made locally: no container registry is reachable on our
# build machines, but Debian's package mirror is.
#
#   $DEBIAN_IMAGE (localhost/debian:bookworm-slim)
#       `debootstrap --variant=minbase bookworm`, documentation excluded as in the official slim image,
#       apt sources as in the official image (bookworm, bookworm-updates, bookworm-security), imported with
#       `podman import`. The Dockerfile's RUNTIME_IMAGE.
#   $SWIFT_IMAGE (localhost/swift:X.Y-bookworm, X.Y from the toolchain's `swift --version`)
#       that base + the packages the official swift:X.Y-bookworm image installs + this machine's toolchain
#       ($SWIFT_TOOLCHAIN, /opt/swift) merged into /usr, where the official image has it (the Dockerfile copies
#       the Swift runtime from /usr/lib/swift/linux) + this machine's SwiftPM git mirror ($SWIFT_PACKAGES,
#       /opt/swift-packages) with the same `url.<mirror>.insteadOf https://github.com/` the machine's
#       /etc/gitconfig has, so `swift package resolve` finds the pinned dependencies without GitHub.
#       The Dockerfile's SWIFT_IMAGE.
#
# Debian's packages come from the mirror this machine's apt already uses: the URI of its apt source for
# $SUITE (debootstrap and the image's apt sources) and for $SUITE-security, read from /etc/apt/sources.list.d/
# (deb822 *.sources, one-line *.list) and /etc/apt/sources.list. DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR
# name others (a machine whose apt has no $SUITE source needs both).
#
# An image that already exists is kept (`podman image exists`); REBUILD_BASE_IMAGES=1 makes both anew.
# Needs root; installs podman and debootstrap with apt-get when they are missing.
# IMAGE_TEST_TIMINGS=FILE appends "phase seconds" lines for scripts/ops/image_test.sh.
set -euo pipefail

say() { printf '== %s\n' "$*"; }
die() { printf 'make_base_images: %s\n' "$*" >&2; exit 1; }
timing() { printf '%s %s\n' "$1" "$2" >>"$TIMINGS"; }

# The URI of this machine's first enabled apt source (Types/type deb) whose suites include $1; nothing when none.
apt_source_uri() {
  local files=()
  shopt -s nullglob
  files=(/etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list)
  shopt -u nullglob
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v suite="$1" '
    function has(list, word,    n, i, parts) { n = split(list, parts, /[ \t]+/); for (i = 1; i <= n; i++) if (parts[i] == word) return 1; return 0 }
    function flush(    parts) {
      if (!found && has(types, "deb") && tolower(enabled) != "no" && has(suites, suite)) { split(uris, parts, /[ \t]+/); print parts[1]; found = 1 }
      types = ""; uris = ""; suites = ""; enabled = ""
    }
    function value(line) { sub(/^[^:]*:[ \t]*/, "", line); return line }
    FNR == 1 { flush() }
    FILENAME ~ /\.sources$/ {
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      if ($0 ~ /^[ \t]*#/) next
      key = tolower($1)
      if (key == "types:") types = value($0); else if (key == "uris:") uris = value($0)
      else if (key == "suites:") suites = value($0); else if (key == "enabled:") enabled = value($0)
      next
    }
    $1 == "deb" && !found {
      i = 2
      if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i + 1) == suite) { print $i; found = 1 }
    }
    END { flush() }
  ' "${files[@]}"
}

SUITE=${SUITE:-bookworm}
MIRROR=${DEBIAN_MIRROR:-$(apt_source_uri "$SUITE")}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-$(apt_source_uri "$SUITE-security")}
[ -n "$MIRROR" ] || die "this machine's apt sources have no $SUITE source: set DEBIAN_MIRROR to a Debian archive that has $SUITE"
[ -n "$SECURITY_MIRROR" ] || die "this machine's apt sources have no $SUITE-security source: set DEBIAN_SECURITY_MIRROR to a Debian security archive"
SWIFT_TOOLCHAIN=${SWIFT_TOOLCHAIN:-/opt/swift}
SWIFT_PACKAGES=${SWIFT_PACKAGES:-/opt/swift-packages}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-localhost/debian:$SUITE-slim}
REBUILD=${REBUILD_BASE_IMAGES:-0}
TIMINGS=${IMAGE_TEST_TIMINGS:-/dev/null}

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, podman storage in /var/lib/containers)"

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -x "$SWIFT_TOOLCHAIN/usr/bin/swift" ] || die "no Swift toolchain at $SWIFT_TOOLCHAIN (set SWIFT_TOOLCHAIN)"
swift_version=$("$SWIFT_TOOLCHAIN/usr/bin/swift" --version 2>/dev/null | sed -n 's/.*Swift version \([0-9]*\.[0-9]*\).*/\1/p' | head -1)
[ -n "$swift_version" ] || die "cannot read the version of $SWIFT_TOOLCHAIN/usr/bin/swift"
SWIFT_IMAGE=${SWIFT_IMAGE:-localhost/swift:$swift_version-$SUITE}

work=$(mktemp -d /var/tmp/instructrec-base-images.XXXXXX)
cleanup() {
  # debootstrap unmounts what it mounted, unless it failed half-way.
  for m in proc sys dev/pts dev; do
    mountpoint -q "$work/rootfs/$m" 2>/dev/null && umount -l "$work/rootfs/$m" || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

if [ "$REBUILD" = 1 ]; then
  podman image rm -f "$SWIFT_IMAGE" "$DEBIAN_IMAGE" >/dev/null 2>&1 || true
fi

# ---- localhost/debian:bookworm-slim -------------------------------------------------------------------
if podman image exists "$DEBIAN_IMAGE"; then
  say "$DEBIAN_IMAGE exists (REBUILD_BASE_IMAGES=1 to make it anew)"
else
  say "debootstrap --variant=minbase $SUITE from $MIRROR"
  t0=$(date +%s)
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
  t1=$(date +%s); timing debootstrap $((t1 - t0)); say "debootstrap: $((t1 - t0)) s"
  root=$work/rootfs
  # As the official slim image: no documentation, man pages or translations (copyright files stay).
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/* "$root"/usr/share/groff/*
  # apt sources as in debian:bookworm-slim (deb822), and no package lists or caches in the image.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
         "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
  # The runtime provides /dev, /proc, /sys; the host's resolver and name do not belong in an image.
  rm -rf "${root:?}"/dev/* "$root"/proc/* "$root"/sys/*
  : >"$root/etc/resolv.conf"; rm -f "$root/etc/hostname"
  say "podman import -> $DEBIAN_IMAGE"
  tar --numeric-owner --xattrs -C "$root" -cf "$work/rootfs.tar" .
  podman import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "debootstrap --variant=minbase $SUITE $MIRROR" \
    "$work/rootfs.tar" "$DEBIAN_IMAGE" >/dev/null
  rm -rf --one-file-system "$root" "$work/rootfs.tar"
  t2=$(date +%s); timing debian-import $((t2 - t1)); say "import: $((t2 - t1)) s"
fi

# ---- localhost/swift:X.Y-bookworm ---------------------------------------------------------------------
if podman image exists "$SWIFT_IMAGE"; then
  say "$SWIFT_IMAGE exists (REBUILD_BASE_IMAGES=1 to make it anew)"
else
  say "building $SWIFT_IMAGE: $DEBIAN_IMAGE + the official image's packages + $SWIFT_TOOLCHAIN"
  t0=$(date +%s)
  mkdir -p "$work/swift" "$work/empty"
  packages_context=$work/empty
  git_mirror=""
  if [ -d "$SWIFT_PACKAGES" ]; then
    packages_context=$SWIFT_PACKAGES
    # The machine's git mirror of GitHub, as /etc/gitconfig points at it.
    git_mirror="git config --system url.$SWIFT_PACKAGES/.insteadOf https://github.com/ \
 && git config --system --add url.$SWIFT_PACKAGES/.insteadOf git@github.com: \
 && git config --system --add url.$SWIFT_PACKAGES/.insteadOf ssh://git@github.com/ &&"
  fi
  # Packages: those of swiftlang/swift-docker's $swift_version/debian/12/Dockerfile (what swift:X.Y-bookworm has).
  cat >"$work/swift/Containerfile" <<EOF
FROM $DEBIAN_IMAGE
LABEL description="Swift $swift_version toolchain of the build machine on Debian $SUITE (scripts/ops/make_base_images.sh)"
RUN export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true && apt-get -q update && \\
    apt-get -q install -y \\
    binutils \\
    libicu-dev \\
    libcurl4-openssl-dev \\
    libedit-dev \\
    libsqlite3-dev \\
    libncurses-dev \\
    libpython3-dev \\
    libxml2-dev \\
    pkg-config \\
    uuid-dev \\
    tzdata \\
    git \\
    gcc \\
    libstdc++-12-dev \\
    && rm -r /var/lib/apt/lists/*
COPY --from=toolchain usr/ /usr/
COPY --from=packages . $SWIFT_PACKAGES/
RUN find /usr/lib/swift ! -perm -o+r -exec chmod o+r {} + \\
 && $git_mirror swift --version
EOF
  podman build --isolation=chroot --network=host --format docker \
    --build-context toolchain="$SWIFT_TOOLCHAIN" --build-context packages="$packages_context" \
    -f "$work/swift/Containerfile" -t "$SWIFT_IMAGE" "$work/swift" >"$work/swift-build.log" 2>&1 \
    || { tail -40 "$work/swift-build.log" >&2; die "building $SWIFT_IMAGE failed"; }
  grep -m1 'Swift version' "$work/swift-build.log" || true
  t1=$(date +%s); timing swift-image $((t1 - t0)); say "$SWIFT_IMAGE: $((t1 - t0)) s"
fi

podman images --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E "^($DEBIAN_IMAGE|$SWIFT_IMAGE) " || true
printf 'DEBIAN_IMAGE=%s\nSWIFT_IMAGE=%s\n' "$DEBIAN_IMAGE" "$SWIFT_IMAGE"
