"""A third-party FHIR client against tsunagu's FHIR API (issue #7, acceptance 1).

Usage: fhir_client_check.py BASE_URL TOKEN INSTITUTION_CODE LOCAL_ID
       fhir_client_check.py --check FILE.json...   (parse resources with the R4 models only)

The client is the PyPI package fhirclient (SMART on FHIR's Python client, R4 models);
every resource the server sends back is also parsed with the R4 models of the PyPI
package fhir.resources, an independent structural validator. Steps:

1. read the CapabilityStatement;
2. create a JP Core Patient (kanji and kana names marked IDE / SYL, the institution's
   patient number as identifier);
3. find it by kana name written in hiragana, and by identifier;
4. read it, update it through the client (a new version), read its history (two
   versions, newest first), and vread the first version;
5. a write with a stale If-Match is refused with 412 and changes nothing.

Prints "ok <patient id>" and exits 0; on any failure prints what failed and exits 1.
"""

import sys
import warnings

from fhir.resources.bundle import Bundle as CheckedBundle
from fhir.resources.capabilitystatement import CapabilityStatement as CheckedCapability
from fhir.resources.patient import Patient as CheckedPatient
from fhirclient import server as fhir_server
from fhirclient.models.address import Address
from fhirclient.models.patient import Patient

warnings.simplefilter("ignore", DeprecationWarning)

REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"
PATIENT_ID_OID = "urn:oid:1.2.392.100495.20.3.51.1"


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def name(rep, family, given):
    return {
        "extension": [{"url": REPRESENTATION, "valueCode": rep}],
        "use": "official",
        "family": family,
        "given": [given],
    }


def main():
    base, token, code, local_id = sys.argv[1:5]
    srv = fhir_server.FHIRServer(None, base_uri=base.rstrip("/") + "/")
    srv.session.headers["Authorization"] = f"Bearer {token}"
    system = PATIENT_ID_OID + code

    cap = srv.request_json("metadata")
    CheckedCapability.parse_obj(cap)
    patient_types = [r["type"] for r in cap["rest"][0]["resource"]]
    if "Patient" not in patient_types:
        fail(f"the CapabilityStatement does not offer Patient: {patient_types}")

    new = Patient(
        {
            "resourceType": "Patient",
            "identifier": [{"system": system, "value": local_id}],
            "name": [name("IDE", "海野", "千鶴"), name("SYL", "ウミノ", "チヅル")],
            "gender": "female",
            "birthDate": "1938-05-14",
            "address": [{"text": "千葉県海浜市潮見町3-2-1", "postalCode": "299-1234"}],
        }
    )
    created_json = new.create(srv)
    if not created_json:
        fail("create returned no resource")
    CheckedPatient.parse_obj(created_json)
    created = Patient(created_json)
    pid = created.id
    if created.meta.versionId != "1":
        fail(f"a new patient is version 1, got {created.meta.versionId}")

    by_kana = Patient.where({"name": "うみの"}).perform_resources(srv)
    if pid not in [p.id for p in by_kana]:
        fail("the patient is not found by kana name written in hiragana")
    by_identifier = Patient.where({"identifier": f"{system}|{local_id}"}).perform_resources(srv)
    if [p.id for p in by_identifier] != [pid]:
        fail(f"search by identifier found {[p.id for p in by_identifier]}, expected [{pid}]")
    bundle = srv.request_json(f"Patient?identifier={system}|{local_id}")
    CheckedBundle.parse_obj(bundle)

    read = Patient.read(pid, srv)
    CheckedPatient.parse_obj(read.as_json())
    kana = [n for n in read.name if n.extension and n.extension[0].valueCode == "SYL"]
    if not kana or kana[0].family != "ウミノ":
        fail("the kana name is not marked SYL")

    read.address = [Address({"text": "千葉県海浜市潮見町3-2-1 202号", "postalCode": "299-1234"})]
    updated_json = read.update(srv)
    CheckedPatient.parse_obj(updated_json)
    if updated_json["meta"]["versionId"] != "2":
        fail(f"the update made version {updated_json['meta']['versionId']}, expected 2")

    history = srv.request_json(f"Patient/{pid}/_history")
    CheckedBundle.parse_obj(history)
    versions = [e["resource"]["meta"]["versionId"] for e in history.get("entry", [])]
    if versions != ["2", "1"]:
        fail(f"history versions {versions}, expected ['2', '1']")
    first = srv.request_json(f"Patient/{pid}/_history/1")
    CheckedPatient.parse_obj(first)
    if first["address"][0]["text"] != "千葉県海浜市潮見町3-2-1":
        fail("version 1 does not keep the first address")

    stale = dict(updated_json)
    stale["address"] = [{"text": "どこか別の住所"}]
    res = srv.session.put(
        f"{srv.base_uri}Patient/{pid}",
        json=stale,
        headers={"Content-Type": "application/fhir+json", "If-Match": 'W/"1"'},
    )
    if res.status_code != 412:
        fail(f"a stale If-Match got {res.status_code}, expected 412")
    if res.json().get("resourceType") != "OperationOutcome":
        fail("a stale If-Match is not answered with an OperationOutcome")
    now = srv.request_json(f"Patient/{pid}")
    if now["meta"]["versionId"] != "2" or now["address"][0]["text"] != "千葉県海浜市潮見町3-2-1 202号":
        fail("the refused write changed the patient")

    print(f"ok {pid}")


# fhir.resources checks structure, types and cardinalities but not the codes of
# required bindings: these are the required bindings of the top-level codes the REST
# API writes.
REQUIRED_CODES = {
    ("Patient", "gender"): {"male", "female", "other", "unknown"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                                "entered-in-error", "unknown"},
    ("MedicationRequest", "status"): {"active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped",
                                      "draft", "unknown"},
    ("MedicationRequest", "intent"): {"proposal", "plan", "order", "original-order", "reflex-order",
                                      "filler-order", "instance-order", "option"},
    ("DocumentReference", "status"): {"current", "superseded", "entered-in-error"},
    ("DocumentReference", "docStatus"): {"preliminary", "final", "amended", "entered-in-error"},
    ("QuestionnaireResponse", "status"): {"in-progress", "completed", "amended", "entered-in-error", "stopped"},
    ("Communication", "status"): {"preparation", "in-progress", "not-done", "on-hold", "stopped", "completed",
                                  "entered-in-error", "unknown"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order", "reflex-order",
                                   "filler-order", "instance-order", "option"},
    ("Composition", "status"): {"preliminary", "final", "amended", "entered-in-error"},
    ("Task", "status"): {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                         "on-hold", "failed", "completed", "entered-in-error"},
    ("Task", "intent"): {"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                         "instance-order", "option"},
    ("Bundle", "type"): {"document", "message", "transaction", "transaction-response", "batch", "batch-response",
                         "history", "searchset", "collection"},
}


def check_codes(resource, where, problems):
    kind = resource.get("resourceType")
    for (rk, field), allowed in REQUIRED_CODES.items():
        if kind == rk and field in resource and resource[field] not in allowed:
            problems.append(f"{where}: {kind}.{field} = {resource[field]!r} is not one of {sorted(allowed)}")
    for i, e in enumerate(resource.get("entry", []) if kind == "Bundle" else []):
        if "resource" in e:
            check_codes(e["resource"], f"{where} entry[{i}]", problems)


def tolerate_keyword_fields():
    """pydantic 1.9 cannot build the signature of a model with a field named after a
    Python keyword on Python 3.11 (R4 Task's `for`): the class fails to import at all.
    The signature only serves introspection, so fall back to the plain one; validation
    (the field's alias `for`, extra fields refused) is unchanged."""
    import inspect

    import pydantic.main

    original = pydantic.main.generate_model_signature

    def tolerant(init, fields, config):
        try:
            return original(init, fields, config)
        except ValueError:
            return inspect.signature(init)

    pydantic.main.generate_model_signature = tolerant


def check_files(paths):
    """Parse each file's resource (a Bundle's entries included) with the R4 models,
    and check the codes of required bindings."""
    import json

    tolerate_keyword_fields()
    from fhir.resources import get_fhir_model_class

    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            resource = json.load(f)
        try:
            get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
        except Exception as e:  # the validator's message names the element at fault
            problems.append(f"{path}: {e}")
        check_codes(resource, path, problems)
    if problems:
        fail("\n".join(problems))
    print("ok")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--check"]:
        check_files(sys.argv[2:])
    else:
        main()
