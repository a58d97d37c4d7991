#!/usr/bin/env bash
# ci-install.sh — installs everything fluxlit's integration tests need on a fresh Debian 12
# machine (run as root, e.g. from .ci/run): Debian packages, then the Python environments
# /opt/fluxlit-venvs/{newest,oldest} from requirements/*.txt (scripts/python-envs.sh). Idempotent:
# apt runs only for missing packages, and a venv already matching its requirement file is left
# alone. Quiet on success; on failure it prints the failing step's output and exits non-zero.
# Then: FLUXLIT_REQUIRE_INTEGRATION=1 go test ./...
set -euo pipefail

PACKAGES=(
  # Python: Streamlit, FastAPI and uvicorn live in the venvs (python-envs.sh). Debian's python3
  # keeps PyJWT + cryptography (the JWT tests sign with it) and yaml (deploy tests parse YAML).
  python3 python3-jwt python3-cryptography python3-venv
  # proxies, load and monitoring tools the comparison and soak tests drive
  nginx wrk caddy prometheus
  # browser tests
  chromium chromium-driver
  # certificates, supervision tests, HTTP probes, the script's own needs
  openssl systemd curl ca-certificates util-linux unzip python3-yaml procps
  # the scratch image test: podman builds the generated Containerfile, buildah runs the image
  # (chroot isolation and a vfs store, so no fuse-overlayfs, slirp4netns or daemon is needed)
  podman buildah
)

die() { echo "ci-install.sh: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (it installs Debian packages)"
command -v apt-get >/dev/null || die "needs a Debian-based system with apt-get"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

log=$(mktemp /tmp/ci-install.XXXXXX.log)
trap 'rm -f "$log"' EXIT

# run STEP CMD...: runs CMD with output to the log; on failure prints the log tail and exits.
run() {
  local step=$1
  shift
  if ! "$@" >>"$log" 2>&1; then
    tail -40 "$log" >&2
    die "$step failed"
  fi
}

missing=()
for p in "${PACKAGES[@]}"; do
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  # Keep package installs from starting daemons (nginx on :80, prometheus on :9090, caddy):
  # tests start their own instances on free loopback ports. Only a policy file we created is
  # removed again.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    created_policy=1
  fi
  trap 'rm -f "$log"; if ((created_policy)); then rm -f "$policy"; fi' EXIT
  export DEBIAN_FRONTEND=noninteractive
  run "apt-get update" apt-get -o DPkg::Lock::Timeout=600 update -qq
  run "apt-get install ${missing[*]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}"
fi

run "python-envs.sh" bash "$here/python-envs.sh"
# Python FluxLit's smoke script and smoke app, run against the binary (needs the newest venv).
run "fluxlit-sdist.sh" bash "$here/fluxlit-sdist.sh"
echo "ci-install.sh: ok ($(tail -3 "$log" | tr '\n' ' '))"
