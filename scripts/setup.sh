#!/usr/bin/env bash
# Installs what the package needs on Debian/Ubuntu: the C libraries it links
# (OpenBLAS, libmicrohttpd). With --test, also what the tests outside Swift use:
# headless Chromium and its driver (the web page test), and the Python
# packages `numpy`, `openai`, `schemathesis`, `selenium`, `tokenizers`, and `gguf`
# and `safetensors` (model file fixtures). Swift packages come through Package.swift.
set -euo pipefail
packages=(libopenblas-dev libmicrohttpd-dev pkg-config)
python_packages=()
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium chromium-driver python3-pip)
  python_packages+=(numpy openai schemathesis selenium tokenizers gguf safetensors)
fi
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ((${#missing[@]})); then
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for package in "${python_packages[@]}"; do
  python3 -c "import $package" 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check "$package"
done
