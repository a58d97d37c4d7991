#!/usr/bin/env bash
# fluxlit-sdist.sh — fetches Python FluxLit's source distribution (fluxlit 0.13.2) from the
# package index, checks its sha256 and unpacks it to /opt/fluxlit-venvs/sdist/fluxlit-0.13.2:
# its scripts/smoke_fluxlit_run.sh and examples/smoke_app are run against the fluxlit binary by
# fluxlit_smoke_integration_test.go. Called by ci-install.sh after python-envs.sh (it uses the
# newest venv's pip). Idempotent: an unpacked tree is left alone. Prints the tree's path.
set -euo pipefail

version=0.13.2
sha256=370f99ea7dbaa3ff2aafe2fbc6fcadfaad8f9c9f7599d3650eab521e0566b458
root=${FLUXLIT_VENVS:-/opt/fluxlit-venvs}
dest=$root/sdist/fluxlit-$version
pip=$root/newest/bin/pip

die() { echo "fluxlit-sdist.sh: $*" >&2; exit 1; }

if [[ -f $dest/.sha256 && $(cat "$dest/.sha256") == "$sha256" ]]; then
  echo "$dest"
  exit 0
fi
[[ -x $pip ]] || die "no $pip (run python-envs.sh first)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --no-deps --no-binary: the sdist itself, not a wheel and not its dependencies.
"$pip" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
  -d "$tmp" "fluxlit==$version" >&2 || die "pip download fluxlit==$version failed"
archive=$tmp/fluxlit-$version.tar.gz
echo "$sha256  $archive" | sha256sum --check --quiet - >&2 || die "fluxlit-$version.tar.gz: sha256 mismatch"
rm -rf "$dest"
mkdir -p "$root/sdist"
tar -xzf "$archive" -C "$root/sdist" || die "cannot unpack $archive"
echo "$sha256" >"$dest/.sha256"
echo "$dest"
