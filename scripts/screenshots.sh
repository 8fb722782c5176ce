#!/usr/bin/env bash
# Regenerates the web UI screenshots in crates/vystak-otel-viewer/docs/ (1280×800, headless
# Chromium): runs the demo's chat and Slack turns into a viewer, then shoots every page — the
# same run as the browser test that checks those pages.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium (Debian package) for the screenshots"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
export PATH="$PATH:/usr/sbin"
VYSTAK_UPDATE_SCREENSHOTS=1 cargo test --test agents the_web_ui_shows_the_demo_in_a_real_browser
ls -l crates/vystak-otel-viewer/docs/*.png
