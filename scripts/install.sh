#!/bin/sh
# install.sh — install affinityd: the CLI (with its production dependencies) under $PREFIX,
# the systemd units, the udev rules and the default policy. An existing policy is never
# overwritten. Honours DESTDIR and PREFIX for packagers:
#   sudo ./scripts/install.sh                          # PREFIX=/usr, into /
#   DESTDIR=/tmp/pkg PREFIX=/usr ./scripts/install.sh  # staged, for a package
# Needs a built tree (npm install) and npm (to install the packed package with its
# dependencies, which npm takes from its cache or the registry).
set -eu
PREFIX=${PREFIX:-/usr}
DESTDIR=${DESTDIR:-}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-$PREFIX/lib/systemd/system}
UDEVRULESDIR=${UDEVRULESDIR:-$PREFIX/lib/udev/rules.d}
here=$(cd "$(dirname "$0")/.." && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# The package as npm would publish it (runs `prepare`, i.e. the build), then a global-style
# install into the staged prefix: lib/node_modules/affinityd + bin/affinityd.
tarball=$(cd "$here" && npm pack --silent --pack-destination "$work" | tail -n 1)
mkdir -p "$DESTDIR$PREFIX"
npm install --global --omit=dev --no-audit --no-fund --prefix "$DESTDIR$PREFIX" "$work/$tarball" >/dev/null

install -d "$DESTDIR$UNITDIR" "$DESTDIR$UDEVRULESDIR" "$DESTDIR$SYSCONFDIR/affinityd/affinityd.d"
for unit in affinityd.service affinityd-apply.service; do
  sed "s|/usr/bin/affinityd|$PREFIX/bin/affinityd|g" "$here/systemd/$unit" >"$work/$unit"
  install -m 0644 "$work/$unit" "$DESTDIR$UNITDIR/$unit"
done
install -m 0644 "$here/rules/90-affinityd.rules" "$DESTDIR$UDEVRULESDIR/90-affinityd.rules"
if [ -e "$DESTDIR$SYSCONFDIR/affinityd/affinityd.ini" ]; then
  echo "install.sh: keeping existing $DESTDIR$SYSCONFDIR/affinityd/affinityd.ini"
else
  install -m 0644 "$here/etc/affinityd.ini" "$DESTDIR$SYSCONFDIR/affinityd/affinityd.ini"
fi
echo "install.sh: installed $DESTDIR$PREFIX/bin/affinityd, units in $DESTDIR$UNITDIR, rules in $DESTDIR$UDEVRULESDIR"
