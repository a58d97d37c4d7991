#!/usr/bin/env bash
# python-envs.sh — creates fluxlit's Python test environments from the hash-pinned requirement
# files in requirements/ (pip install --require-hashes): Streamlit, FastAPI, uvicorn[standard],
# httpx, the Python FluxLit package and pytest. Called by ci-install.sh and demo.sh.
#
#   python-envs.sh [NAME...]    # NAME: newest, oldest (default: both); prints each venv's python
#
# Idempotent: a venv whose marker file holds the requirement file's sha256 and the interpreter's
# version is left alone (a second run takes well under a second). Otherwise the venv is created
# if missing and synced to the file: pinned packages installed, anything else uninstalled, so a
# venv that tests are using is updated in place rather than deleted under them. Environment:
#   FLUXLIT_VENVS        root of the venvs (default /opt/fluxlit-venvs)
#   FLUXLIT_VENV_PYTHON  interpreter the venvs are made from (default: python3 on PATH)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${FLUXLIT_VENVS:-/opt/fluxlit-venvs}
base_python=${FLUXLIT_VENV_PYTHON:-python3}

die() { echo "python-envs.sh: $*" >&2; exit 1; }

command -v "$base_python" >/dev/null || die "no $base_python on PATH (set FLUXLIT_VENV_PYTHON)"
# The pins are resolved for CPython 3.11 (the requirement files' markers and wheels).
version=$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
[[ $version == 3.11.* ]] || die "$base_python is Python $version; the pins are for 3.11 (set FLUXLIT_VENV_PYTHON)"
if ! "$base_python" -c 'import venv, ensurepip' 2>/dev/null; then
  # Debian's /usr/bin/python3 has no venv module until python3-venv is installed.
  [[ $(id -u) == 0 ]] || die "$base_python cannot make venvs (apt-get install python3-venv as root)"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq python3-venv >&2 ||
    die "apt-get install python3-venv failed"
fi

mkdir -p "$root"
exec 9>"$root/.lock"
flock -w 900 9 || die "timed out waiting for $root/.lock (another install running?)"

# sync NAME: makes $root/NAME match requirements/NAME.txt.
sync() {
  local name=$1 req=$here/requirements/$1.txt venv=$root/$1
  [[ -f $req ]] || die "no requirement file $req"
  local want
  want="$(sha256sum "$req" | cut -d' ' -f1) python $version"
  if [[ -f $venv/.fluxlit-requirements && $(cat "$venv/.fluxlit-requirements") == "$want" ]]; then
    echo "$venv/bin/python"
    return 0
  fi
  # A venv made from another interpreter (path or version) cannot be synced: make it anew.
  if [[ -x $venv/bin/python ]] && ! "$venv/bin/python" -c "import sys; assert '%d.%d.%d' % sys.version_info[:3] == '$version'" 2>/dev/null; then
    rm -rf "$venv"
  fi
  rm -f "$venv/.fluxlit-requirements"
  if [[ ! -x $venv/bin/python ]]; then
    "$base_python" -m venv "$venv" >&2 || die "python -m venv $venv failed"
  fi
  # --no-deps: the file pins the whole closure (pip-compile); pip check below proves it.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
    -r "$req" >&2 || die "pip install -r $req into $venv failed"
  local extra
  extra=$("$venv/bin/python" - "$req" <<'EOF'
import re, sys
from importlib import metadata
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
pinned = {norm(m.group(1)) for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", open(sys.argv[1]).read(), re.M)}
keep = pinned | {"pip", "setuptools", "wheel"}
print(" ".join(sorted({norm(d.metadata["Name"]) for d in metadata.distributions()} - keep)))
EOF
  )
  if [[ -n $extra ]]; then
    # shellcheck disable=SC2086 # a list of names
    "$venv/bin/python" -m pip uninstall --quiet --yes $extra >&2 || die "pip uninstall $extra failed"
  fi
  local check
  check=$("$venv/bin/python" -m pip check 2>&1) || die "$venv: pip check: $check (requirements/$name.txt incomplete?)"
  echo "$want" >"$venv/.fluxlit-requirements"
  echo "$venv/bin/python"
}

names=("$@")
((${#names[@]} > 0)) || names=(newest oldest)
for n in "${names[@]}"; do
  case $n in
  newest | oldest) sync "$n" ;;
  *) die "unknown environment '$n' (newest or oldest)" ;;
  esac
done
