#!/usr/bin/env bash
# Installs what the build and the tests need and the machine lacks:
# redis-server and redis-cli (Debian's packages), the openssl CLI (the TLS
# tests make a throwaway CA with it), for the C library a C compiler,
# pkg-config and python3 (cbindgen comes from `make -C bindings/c
# cbindgen`), and python3-venv for the Python tests. Idempotent and quiet
# when everything is there already.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
# The C library's tests: a C compiler with AddressSanitizer, pkg-config.
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# The TLS tests make a throwaway CA with the openssl CLI.
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# `make python-test` builds a virtualenv; Debian splits venv/ensurepip out.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || need+=(python3-venv)
if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install ${need[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts a system redis on 6379 after install; our tests never use it.
