#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine of this kind (Debian,
# Python 3.11, Go, Java): ZooKeeper and shellcheck from Debian, a virtualenv with the
# operator and its test dependencies, and the control plane (kube-apiserver, etcd) and
# the clients kubectl and helm, built from the Go module proxy into ~/.cache. Every
# step is skipped when already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# Debian packages: ZooKeeper (the real server the tests run), shellcheck (the scripts' lint).
missing=()
[ -e /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
  install || { $sudo apt-get update -qq >&2 && install; }
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum <pyproject.toml | cut -c1-16)"
if [ ! -e "$stamp" ]; then
  say "installing the operator and its test dependencies into .venv"
  .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' >&2
  rm -f .venv/.installed-*
  touch "$stamp"
fi

bash tests/env/build-control-plane.sh >/dev/null
say "ready"
