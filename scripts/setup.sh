#!/usr/bin/env bash
# Installs the system libraries the package links against (Debian/Ubuntu).
# Swift packages come through Package.swift; nothing else is downloaded.
set -euo pipefail
packages=(libopenblas-dev libmicrohttpd-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
