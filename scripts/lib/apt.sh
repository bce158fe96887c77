# shellcheck shell=bash
# Sourced helper: install Debian packages only when they are missing.
#
#   apt_ensure PKG...   installs the missing PKGs (as root), running
#                       `apt-get update` at most once per shell. When not
#                       root and something is missing, prints a message and
#                       returns 1.

_TSUNAGU_APT_UPDATED="${_TSUNAGU_APT_UPDATED:-0}"

apt_is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        apt_is_installed "$pkg" || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: missing system packages: ${missing[*]}" >&2
        echo "       install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        return 1
    fi
    echo "installing missing system packages: ${missing[*]}"
    if [ "$_TSUNAGU_APT_UPDATED" != 1 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update
        _TSUNAGU_APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}
