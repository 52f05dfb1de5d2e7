#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the fleet admin page's browser test (issue 9): /usr/bin/chromium and
# /usr/bin/chromedriver, from the distribution's packages, so nothing downloads a browser at test time.
# Skips what is already installed; as root on a fresh machine (CI=true, no stdin) it installs both.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-chromium.sh: chromium and chromium-driver are missing; as root: apt-get install chromium chromium-driver" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
/usr/bin/chromedriver --version
