"""Validate a FHIR R4 document Bundle written by tsunagu, independently of tsunagu.

Usage: fhir_validate.py BUNDLE.json

1. Structure: the Bundle is parsed with the R4 (4.0.1) models of the PyPI package
   fhir.resources, which checks every contained resource (element names, types,
   cardinalities, required elements, code values of required bindings).
2. Document rules: the first entry is a Composition; every section has a code, a
   title and text, entries or sub-sections (FHIR cmp-1); every urn:uuid reference
   resolves to a fullUrl of the Bundle; the sections the Japanese referral letter needs
   are there for the document's type.

Prints "ok" and exits 0, or prints each problem and exits 1.
"""

import json
import sys

import fhir.resources
from fhir.resources.bundle import Bundle

SECTION_SYSTEM = "http://jpfhir.jp/fhir/clins/CodeSystem/document-section"
# Required (top-level codes, codes inside 300) per document type code.
REQUIRED = {
    "57133-1": ({"910", "920", "300"}, {"950"}),
    "18776-5": ({"910", "920", "300"}, {"340", "420"}),
}


# fhir.resources checks types and cardinalities but not the codes of required
# bindings; these are the required bindings of the elements tsunagu writes.
REQUIRED_CODES = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Composition", "status"): {"preliminary", "final", "amended", "entered-in-error"},
    ("DocumentReference", "status"): {"current", "superseded", "entered-in-error"},
    ("MedicationStatement", "status"): {
        "active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken",
    },
}
NARRATIVE_STATUS = {"generated", "extensions", "additional", "empty"}
RELATES_TO = {"replaces", "transforms", "signs", "appends"}


def check_codes(entries, problems):
    for i, e in enumerate(entries):
        r = e.get("resource", {})
        kind = r.get("resourceType")
        for (rk, field), allowed in REQUIRED_CODES.items():
            if kind == rk and field in r and r[field] not in allowed:
                problems.append(f"entry[{i}] {kind}.{field} = {r[field]!r} is not one of {sorted(allowed)}")
        for rel in r.get("relatesTo", []) if kind == "Composition" else []:
            if rel.get("code") not in RELATES_TO:
                problems.append(f"entry[{i}] Composition.relatesTo.code = {rel.get('code')!r}")

        def narratives(sections):
            for s in sections or []:
                status = s.get("text", {}).get("status")
                if status is not None and status not in NARRATIVE_STATUS:
                    problems.append(f"entry[{i}] section {s.get('title')!r} text.status = {status!r}")
                narratives(s.get("section"))

        if kind == "Composition":
            narratives(r.get("section"))


def codes(sections):
    out = set()
    for s in sections or []:
        for c in s.get("code", {}).get("coding", []):
            if c.get("system") == SECTION_SYSTEM:
                out.add(c.get("code"))
    return out


def walk_sections(sections, path, problems):
    for i, s in enumerate(sections or []):
        where = f"{path}[{i}]"
        if not s.get("title"):
            problems.append(f"{where}: no title")
        if not s.get("code"):
            problems.append(f"{where}: no code")
        if not (s.get("text") or s.get("entry") or s.get("section")):
            problems.append(f"{where}: neither text, entries nor sub-sections (cmp-1)")
        walk_sections(s.get("section"), where + ".section", problems)


def references(node, out):
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            out.append(ref)
        for v in node.values():
            references(v, out)
    elif isinstance(node, list):
        for v in node:
            references(v, out)


def main(path):
    assert fhir.resources.__fhir_version__ == "4.0.1", fhir.resources.__fhir_version__
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    problems = []
    try:
        Bundle.parse_obj(raw)
    except Exception as e:  # the validator's own error lists every field
        problems.append(f"not a valid FHIR R4 Bundle: {e}")
    if raw.get("type") != "document":
        problems.append(f"Bundle.type is {raw.get('type')!r}, not 'document'")
    entries = raw.get("entry") or []
    full_urls = {e.get("fullUrl") for e in entries}
    check_codes(entries, problems)
    if not entries or entries[0].get("resource", {}).get("resourceType") != "Composition":
        problems.append("the first entry is not a Composition")
    else:
        comp = entries[0]["resource"]
        walk_sections(comp.get("section"), "Composition.section", problems)
        type_codes = {c.get("code") for c in comp.get("type", {}).get("coding", [])}
        for code, (top, inner) in REQUIRED.items():
            if code in type_codes:
                have_top = codes(comp.get("section"))
                if not top <= have_top:
                    problems.append(f"missing sections {sorted(top - have_top)}")
                structured = [s for s in comp.get("section", []) if "300" in codes([s])]
                have_inner = codes(structured[0].get("section")) if structured else set()
                if not inner <= have_inner:
                    problems.append(f"missing sub-sections of 300: {sorted(inner - have_inner)}")
    refs = []
    references(raw, refs)
    for r in refs:
        if r.startswith("urn:uuid:") and r not in full_urls:
            problems.append(f"reference {r} does not resolve in the Bundle")
    if problems:
        for p in problems:
            print(p)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
