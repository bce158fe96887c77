# shellcheck shell=bash
# Sourced helper: the independent FHIR validator of the test suite.
#
#   ensure_fhir_validator   exports TSUNAGU_FHIR_VALIDATOR="PYTHON SCRIPT"
#                           and TSUNAGU_FHIR_CLIENT="PYTHON SCRIPT"
#
# The validator is the PyPI package fhir.resources, pinned to 6.2.2: the last line of
# releases whose models are FHIR R4 4.0.1 (6.4 and later model R4B or R5). It runs on
# pydantic 1.9 (pinned with it). It lives in a virtual environment under target/, so it
# is installed once per checkout and never touches the system Python.
# scripts/lib/fhir_validate.py then parses a Bundle with the R4 models and checks the
# document rules we rely on.

ensure_fhir_validator() {
    local root venv py
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    venv="$root/target/fhir-venv"
    py="$venv/bin/python"
    if ! "$py" -c 'import fhirclient, fhir.resources; assert fhir.resources.__fhir_version__ == "4.0.1"' >/dev/null 2>&1; then
        echo "installing the FHIR validator (fhir.resources 6.2.2, FHIR R4) and client (fhirclient 4.4.0) into $venv"
        python3 -m venv "$venv" || return 1
        "$py" -m pip install --quiet 'fhir.resources==6.2.2' 'pydantic==1.9.2' 'fhirclient==4.4.0' || return 1
        "$py" -c 'import fhir.resources; assert fhir.resources.__fhir_version__ == "4.0.1"' || return 1
    fi
    export TSUNAGU_FHIR_VALIDATOR="$py $root/scripts/lib/fhir_validate.py"
    # A third-party FHIR client (SMART on FHIR's fhirclient) driving the FHIR API.
    export TSUNAGU_FHIR_CLIENT="$py $root/scripts/lib/fhir_client_check.py"
    echo "FHIR validator: $TSUNAGU_FHIR_VALIDATOR"
}
