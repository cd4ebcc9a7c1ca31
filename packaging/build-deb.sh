#!/usr/bin/env bash
# Build postern's Debian package with dpkg-deb alone:
#   bash packaging/build-deb.sh [OUTDIR]      (default: dist/)
# prints the path of the .deb it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
export PATH="$PATH:/usr/local/go/bin"

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
# Debian versions start with a digit.
debversion="0~git$(date -u +%Y%m%d).${version//-/.}"
arch=$(dpkg --print-architecture)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/root"
install -d "$root/DEBIAN" "$root/usr/sbin" "$root/etc/postern/maps" \
	"$root/lib/systemd/system" "$root/usr/share/doc/postern" "$root/usr/share/man/man8"

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$root/usr/sbin/postern" ./cmd/postern
install -m 0644 packaging/postern.toml "$root/etc/postern/postern.toml"
install -m 0644 packaging/postern.service "$root/lib/systemd/system/postern.service"
install -m 0644 README.md docs/*.md "$root/usr/share/doc/postern/"
bash packaging/manpage.sh "$root/usr/sbin/postern" "$version" | gzip -9n >"$root/usr/share/man/man8/postern.8.gz"
cat >"$root/usr/share/doc/postern/copyright" <<COPY
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: postern
Files: *
Copyright: the postern developers
License: see the source repository
COPY
for f in postinst prerm postrm conffiles; do
	install -m "$([ "$f" = conffiles ] && echo 0644 || echo 0755)" "packaging/debian/$f" "$root/DEBIAN/$f"
done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$debversion/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" packaging/debian/control >"$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/postern_${debversion}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
