#!/bin/sh
# Puts a real multi-page PDF from a Debian package where viewer-wasm/tests/pipeline.rs looks
# when the package is not installed: target/tmp/fixture/shared-mime-info-spec.pdf.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/target/tmp/fixture"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download shared-mime-info
dpkg -x shared-mime-info_*.deb x
mkdir -p "$out"
cp x/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf "$out/"
echo "fixture: $out/shared-mime-info-spec.pdf"
