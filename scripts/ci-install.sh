#!/usr/bin/env bash
# ci-install.sh — installs everything fluxlit's integration tests need on a fresh Debian 12
# machine (run as root, e.g. from .ci/run). Idempotent: apt runs only for missing packages and
# real-streamlit.sh install is a no-op once done. Quiet on success; on failure it prints the
# failing step's output and exits non-zero. Then: FLUXLIT_REQUIRE_INTEGRATION=1 go test ./...
set -euo pipefail

PACKAGES=(
  # the API server and Streamlit's runtime (the rest is pulled in by real-streamlit.sh)
  python3 python3-fastapi python3-uvicorn python3-jwt python3-cryptography
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

# Locate scripts/real-streamlit.sh whether this file sits at the repository root or in .ci/.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
installer=
for root in "$here" "$here/.."; do
  if [[ -x $root/scripts/real-streamlit.sh ]]; then
    installer=$root/scripts/real-streamlit.sh
    break
  fi
done
[[ -n $installer ]] || die "scripts/real-streamlit.sh not found next to $here"

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

run "real-streamlit.sh install" "$installer" install
python=$(tail -1 "$log")
[[ -x $python ]] || die "real-streamlit.sh install printed no launcher (got '$python')"
echo "ci-install.sh: ok ($python)"
