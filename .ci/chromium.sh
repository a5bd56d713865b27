#!/usr/bin/env bash
# Install Debian's Chromium for the report tests (tests/reports open every report in it).
#
# Usage (as root on Debian 12):   source .ci/chromium.sh      (what .ci/run does)
#                            or:   bash .ci/chromium.sh
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Never downloads a browser
# from anywhere but Debian's apt repositories (Playwright drives this binary via
# executable_path). Runs inside a function, never calls `exit` or `set -e`, so sourcing it
# cannot kill or reconfigure the caller's shell; failure is reported through the status.

_chirpdesk_chromium_setup() {
    local bin=/usr/bin/chromium
    if [ -x "$bin" ]; then
        echo "chromium.sh: $("$bin" --version 2>/dev/null || echo "$bin") already installed" >&2
        return 0
    fi
    echo "chromium.sh: installing chromium via apt-get" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2 || return 1
    if [ ! -x "$bin" ]; then
        echo "chromium.sh: apt-get finished but $bin is missing" >&2
        return 1
    fi
    echo "chromium.sh: $("$bin" --version 2>/dev/null)" >&2
}

_chirpdesk_chromium_setup
_chirpdesk_chromium_status=$?
unset -f _chirpdesk_chromium_setup
if [ "$_chirpdesk_chromium_status" -ne 0 ]; then
    echo "chromium.sh: Chromium setup failed (status $_chirpdesk_chromium_status)" >&2
fi
# `return` works when sourced; when executed, fall back to `exit` with the same status.
return "$_chirpdesk_chromium_status" 2>/dev/null || exit "$_chirpdesk_chromium_status"
