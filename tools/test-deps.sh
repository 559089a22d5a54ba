#!/usr/bin/env bash
# The system packages the tests need beyond npm: Chromium (the browser tests), Samba's AD
# domain controller (the Active Directory tests provision one) and iproute2 (each Samba DC gets
# a loopback address of its own). Run by `npm test` (pretest) and by .ci/run.
#
# Everything present: returns at once, without asking apt. Something missing: installs the
# Debian packages when run as root with apt-get, otherwise stops (exit 1) with the one command
# to run, so a fresh machine does not fail test by test instead.
set -euo pipefail

PACKAGES="chromium samba samba-ad-dc samba-ad-provision iproute2"
INSTALL="apt-get update -qq && apt-get install -y -qq $PACKAGES"

missing() {
  local out=()
  # The browser rig takes CHROMIUM_PATH when it is set (test/browser/chromium.ts).
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    [ -x "$CHROMIUM_PATH" ] || out+=("chromium (CHROMIUM_PATH=$CHROMIUM_PATH)")
  elif ! command -v chromium >/dev/null 2>&1; then
    out+=(chromium)
  fi
  command -v samba-tool >/dev/null 2>&1 || out+=(samba-tool)
  [ -x /usr/sbin/samba ] || out+=(/usr/sbin/samba)
  command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || [ -x /sbin/ip ] || out+=("ip (iproute2)")
  echo "${out[*]:-}"
}

gone=$(missing)
[ -z "$gone" ] && exit 0

echo "The tests need system packages that are missing: $gone" >&2
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing them: $INSTALL" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! (apt-get update -qq && apt-get install -y -qq $PACKAGES >/dev/null); then
    echo "Installing failed. Run as root: $INSTALL" >&2
    exit 1
  fi
  gone=$(missing)
  if [ -n "$gone" ]; then
    echo "Still missing after the install: $gone" >&2
    exit 1
  fi
  exit 0
fi

echo "Run this once (as root), then npm test again:" >&2
echo "  sudo sh -c '$INSTALL'" >&2
exit 1
