# shellcheck shell=bash
# Sourced helper: supply-chain checks with cargo-deny (deny.toml at the root).
#
#   cargo_deny_checks   licences, banned crates and sources always; security
#                       advisories when the RustSec database can be fetched.
#
# cargo-deny is installed from crates.io (pinned) into ~/.cargo/bin when missing; that
# build takes a few minutes once per machine.

CARGO_DENY_VERSION=0.20.2

ensure_cargo_deny() {
    if cargo deny --version 2>/dev/null | grep -q "cargo-deny $CARGO_DENY_VERSION"; then
        return 0
    fi
    echo "installing cargo-deny $CARGO_DENY_VERSION from crates.io"
    cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
}

cargo_deny_checks() {
    ensure_cargo_deny || return 1
    cargo deny --locked check licenses bans sources || return 1
    # The advisory database is a git repository on GitHub. Where it cannot be reached
    # (this project's build machines reach only the package registries) the check is
    # reported as skipped, loudly, rather than passed.
    if timeout 20 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
        cargo deny --locked check advisories || return 1
    else
        echo "SKIPPED: cargo deny check advisories (the RustSec advisory database on GitHub is unreachable from here)"
    fi
}
