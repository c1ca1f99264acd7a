#!/usr/bin/env bash
# Debian packages the tests use as independent peers or real tools: Python zeep and xmlsec (an
# independent SOAP/WS-Security client), xmlsec1, xfsprogs (a reflink file system on a loop device),
# QEMU under TCG for real VMs, cpio to pack the tiny test guest's initrd, and gSOAP 2.8 (gsoap,
# libgsoap-dev; a stock C client built from Amazon's EC2 WSDL with gcc, OpenSSL and zlib headers:
# test/interop/gsoap.test.ts). gsoap + libgsoap-dev: ~6 s, 2 MB download, 10 MB installed here.
# PostgreSQL: each test run starts throwaway servers of its own (test/support/postgres.ts); HAProxy
# in front of several frontends (test/support/haproxy.ts), as in production.
# Installed non-interactively, only when missing.
set -euo pipefail
packages=(python3-zeep python3-xmlsec xmlsec1 xfsprogs qemu-system-x86 qemu-utils cpio gsoap libgsoap-dev gcc libssl-dev zlib1g-dev postgresql haproxy)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "vbs: installing Debian packages for the tests: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
