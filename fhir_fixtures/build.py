"""Builds the scenario patients in this folder as FHIR R4 collection Bundles.

Run `python fhir_fixtures/build.py` after editing; tests check the committed JSON matches this script.
Every scenario is the eligible infant with one change, so each file shows exactly one problem.
Dates: the planned infusion date on each order is 2026-12-01 (day 0); tests run "today" = 2026-11-23.
Codes are those of cds_service/terminology.py (clinical-facts.md); local codes are invented for the
"local lab codes" scenario and mapped by site configuration, as a real site would.
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from cds_service.rules.dosing import kit_for_weight  # noqa: E402

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"
PLANNED = "2026-12-01"
LOCAL_LAB = "http://lab.example-hospital.org/codes"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"


def lab(id_, loinc, display, value, unit, date, low=None, high=None, system=LOINC, code_unit=None):
    obs = {
        "resourceType": "Observation", "id": id_, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": system, "code": loinc, "display": display}], "text": display},
        "subject": {"reference": "Patient/{pid}"},
        "effectiveDateTime": date,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": code_unit or unit},
    }
    if low is not None or high is not None:
        rr = {}
        if low is not None:
            rr["low"] = {"value": low, "unit": unit, "system": UCUM, "code": code_unit or unit}
        if high is not None:
            rr["high"] = {"value": high, "unit": unit, "system": UCUM, "code": code_unit or unit}
        obs["referenceRange"] = [rr]
    return obs


def vital(id_, loinc, display, value, unit, date):
    obs = lab(id_, loinc, display, value, unit, date)
    obs["category"][0]["coding"][0]["code"] = "vital-signs"
    return obs


def titer(id_, date, value_string="<1:25", method="ELISA"):
    obs = {
        "resourceType": "Observation", "id": id_, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [{"system": "http://lab.example-reference.com/tests", "code": "1181",
                             "display": "AAV9 Antibody Test"}], "text": "AAV9 total antibody titer"},
        "subject": {"reference": "Patient/{pid}"},
        "effectiveDateTime": date,
        "valueString": value_string,
        "referenceRange": [{"text": "<1:25"}],
    }
    if method:
        obs["method"] = {"text": method}
    return obs


AUTHORED = "2026-11-23"  # the day the draft orders are written (the fixtures' 'today')


def zolgensma_order(weight_kg, dose_ml=None, ndc=None):
    kit = kit_for_weight(weight_kg)
    ndc = ndc or (kit.ndc if kit else "71894-156-14")
    dose_ml = dose_ml if dose_ml is not None else (kit.dose_volume_ml if kit else 115.5)
    return {
        "resourceType": "MedicationRequest", "id": "zolgensma-order", "status": "draft", "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": ndc,
                        "display": "Zolgensma (onasemnogene abeparvovec-xioi) kit"}],
            "text": "Zolgensma (onasemnogene abeparvovec-xioi) suspension for IV infusion, kit"},
        "subject": {"reference": "Patient/{pid}"},
        "authoredOn": AUTHORED,
        "requester": {"reference": "Practitioner/neuro-1"},
        "dosageInstruction": [{
            "text": f"{dose_ml} mL IV over 60 minutes by syringe pump, once",
            "timing": {"event": [PLANNED]},
            "route": {"text": "intravenous"},
            "doseAndRate": [{"doseQuantity": {"value": dose_ml, "unit": "mL", "system": UCUM, "code": "mL"}}],
        }],
    }


def prednisolone_order(dose_mg):
    return {
        "resourceType": "MedicationRequest", "id": "prednisolone-plan", "status": "active", "intent": "order",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "8638",
                        "display": "prednisolone"}], "text": "prednisolone 15 mg/5 mL oral solution"},
        "subject": {"reference": "Patient/{pid}"},
        "dosageInstruction": [{
            "text": f"{dose_mg} mg by mouth once daily for 30 days from 2026-11-30",
            "timing": {"repeat": {"boundsPeriod": {"start": "2026-11-30", "end": "2026-12-29"},
                                  "frequency": 1, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}],
        }],
    }


def condition(id_, system, code, display, onset=None, status="active"):
    c = {
        "resourceType": "Condition", "id": id_,
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                       "code": status}]},
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
        "subject": {"reference": "Patient/{pid}"},
    }
    if onset:
        c["onsetDateTime"] = onset
    return c


def base(pid: str, weight_kg=7.2, birth="2026-03-10") -> list[dict]:
    return flat([
        {"resourceType": "Patient", "id": "{pid}", "name": [{"family": "Scenario", "given": [pid]}],
         "gender": "female", "birthDate": birth},
        vital("weight", "29463-7", "Body weight", weight_kg, "kg", "2026-11-20"),
        vital("ga-birth", "76516-4", "Gestational age--at birth", 39, "wk", birth),
        titer("aav9", "2026-11-20"),
        lab("alt", "1742-6", "ALT", 28, "U/L", "2026-11-17", 5, 45),
        lab("ast", "1920-8", "AST", 41, "U/L", "2026-11-17", 10, 60),
        lab("tbili", "1975-2", "Bilirubin total", 0.4, "mg/dL", "2026-11-17", 0.1, 1.2),
        lab("pt", "5902-2", "Prothrombin time", 12.1, "s", "2026-11-17", 10.5, 13.5),
        lab("platelets", "777-3", "Platelets", 320, "10*3/uL", "2026-11-17", 150, 450),
        lab("troponin", "10839-9", "Troponin I", 0.01, "ng/mL", "2026-11-17", None, 0.04),
        lab("creatinine", "2160-0", "Creatinine", 0.25, "mg/dL", "2026-11-17", 0.1, 0.4),
        lab("hgb", "718-7", "Hemoglobin", 11.8, "g/dL", "2026-11-17", 10.5, 13.5),
        {
            "resourceType": "Observation", "id": "smn1-variant", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                      "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": "69548-6", "display": "Genetic variant assessment"}]},
            "subject": {"reference": "Patient/{pid}"},
            "effectiveDateTime": "2026-03-20",
            "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]},
            "component": [
                {"code": {"coding": [{"system": LOINC, "code": "48018-6", "display": "Gene studied [ID]"}]},
                 "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId",
                                                      "code": "HGNC:11117", "display": "SMN1"}]}},
                {"code": {"coding": [{"system": LOINC, "code": "82155-3",
                                      "display": "Genomic structural variant copy number"}]},
                 "valueQuantity": {"value": 0, "unit": "1", "system": UCUM, "code": "1"}},
            ],
        },
        condition("sma", "http://hl7.org/fhir/sid/icd-10-cm", "G12.0",
                  "Infantile spinal muscular atrophy, type I [Werdnig-Hoffman]", "2026-03-20"),
        prednisolone_order(round(weight_kg)),
        {"resourceType": "PractitionerRole", "id": "neuro-1-role", "active": True,
         "practitioner": {"reference": "Practitioner/neuro-1"},
         "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": "2084N0402X",
                                    "display": "Neurology with Special Qualifications in Child Neurology"}]}]},
        {"resourceType": "Coverage", "id": "coverage-1", "status": "active",
         "type": {"text": "Medicaid"},
         "beneficiary": {"reference": "Patient/{pid}"},
         "payor": [{"display": "Jefferson Health Plans"}],
         "class": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/coverage-class",
                                          "code": "plan"}]},
                    "value": "JHP-MCD", "name": "Jefferson Health Plans Medicaid (HealthChoices)"}]},
        zolgensma_order(weight_kg),
        encounter("22", "On Campus-Outpatient Hospital", "Children's Hospital infusion center"),
    ])


def encounter(pos, pos_name, location_name):
    """The ordering encounter and its Location, typed by CMS place of service."""
    return [
        {"resourceType": "Encounter", "id": "enc-1", "status": "planned",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
         "subject": {"reference": "Patient/{pid}"},
         "location": [{"location": {"reference": "Location/site-1"}}]},
        {"resourceType": "Location", "id": "site-1", "status": "active", "name": location_name,
         "type": [{"coding": [{"system": POS, "code": pos, "display": pos_name}]}]},
    ]


def flat(resources):
    out = []
    for r in resources:
        out.extend(r if isinstance(r, list) else [r])
    return out


def replace(resources, id_, new=None):
    out = [r for r in resources if r.get("id") != id_]
    if new is not None:
        out.append(new)
    return out


def scenarios() -> dict[str, tuple[str, list[dict]]]:
    s = {}
    s["eligible-infant"] = ("Eligible 8-month-old, all documentation current", base("eligible-infant"))
    r = base("titer-1-100")
    s["titer-1-100"] = ("Anti-AAV9 titer 1:100", replace(r, "aav9", titer("aav9", "2026-11-20", "1:100")))
    r = base("titer-stale")
    s["titer-stale"] = ("Titer <1:25 drawn 30 days before the infusion",
                        replace(r, "aav9", titer("aav9", "2026-11-01")))
    r = base("age-25-months", weight_kg=11.0, birth="2024-11-01")
    r = replace(r, "ga-birth")
    s["age-25-months"] = ("25 months old at the planned infusion", r)
    r = base("premature-not-term", weight_kg=2.8, birth="2026-10-20")
    r = replace(r, "ga-birth", vital("ga-birth", "76516-4", "Gestational age--at birth", 28, "wk", "2026-10-20"))
    s["premature-not-term"] = ("Born at 28 weeks six weeks ago: not yet at term", r)
    r = base("infection")
    r.append(condition("rsv", "http://hl7.org/fhir/sid/icd-10-cm", "J21.0",
                       "Acute bronchiolitis due to respiratory syncytial virus", "2026-11-21"))
    s["infection"] = ("Active RSV bronchiolitis", r)
    r = base("prior-dose")
    r.append({"resourceType": "MedicationAdministration", "id": "zolgensma-given", "status": "completed",
              "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                        "code": "71894-125-04"}], "text": "Zolgensma kit"},
              "subject": {"reference": "Patient/{pid}"}, "effectiveDateTime": "2026-06-01"})
    s["prior-dose"] = ("Zolgensma already given in June", r)
    r = base("aca-plan")
    r = replace(r, "coverage-1", {
        "resourceType": "Coverage", "id": "coverage-1", "status": "active",
        "type": {"text": "Individual and Family (ACA) plan"}, "beneficiary": {"reference": "Patient/{pid}"},
        "payor": [{"display": "Jefferson Health Plans"}]})
    s["aca-plan"] = ("Individual & Family (ACA) product line", r)
    s["weight-22kg"] = ("Weight 22 kg, above the label dose table", base("weight-22kg", weight_kg=22.0,
                                                                         birth="2025-01-15"))
    r = base("missing-labs")
    for id_ in ("alt", "ast", "tbili", "pt", "platelets", "troponin"):
        r = replace(r, id_)
    s["missing-labs"] = ("No baseline liver tests, platelets or troponin", r)
    r = base("advanced-sma")
    r.append(condition("vent", "http://hl7.org/fhir/sid/icd-10-cm", "Z99.11",
                       "Dependence on respirator [ventilator] status", "2026-09-01"))
    s["advanced-sma"] = ("Ventilator-dependent (advanced SMA marker)", r)
    r = replace(base("missing-genetics"), "smn1-variant")
    s["missing-genetics"] = ("SMA coded, no SMN1 genetic result", r)
    r = base("labs-other-units", weight_kg=7.2)
    r = replace(r, "weight", vital("weight", "29463-7", "Body weight", 7200, "g", "2026-11-20"))
    r = replace(r, "tbili", lab("tbili", "14631-6", "Bilirubin total", 6.8, "umol/L", "2026-11-17", 2, 20))
    r = replace(r, "platelets", lab("platelets", "777-3", "Platelets", 320, "10*9/L", "2026-11-17", 150, 450))
    r = replace(r, "troponin", lab("troponin", "89579-7", "Troponin I hs", 8, "ng/L", "2026-11-17", None, 40))
    s["labs-other-units"] = ("Weight in g, bilirubin in umol/L, platelets 10*9/L, troponin ng/L", r)
    r = base("local-lab-codes")
    for id_, code, name in (("alt", "L-ALT", "ALT"), ("ast", "L-AST", "AST"), ("pt", "L-PT", "PT")):
        old = next(x for x in r if x.get("id") == id_)
        new = copy.deepcopy(old)
        new["code"] = {"coding": [{"system": LOCAL_LAB, "code": code, "display": name}], "text": name}
        r = replace(r, id_, new)
    aav9 = titer("aav9", "2026-11-20", None)
    aav9.pop("valueString")
    aav9["code"] = {"coding": [{"system": LOCAL_LAB, "code": "L-9071", "display": "Send-out antibody panel 9"}]}
    aav9["valueRatio"] = {"numerator": {"value": 1}, "denominator": {"value": 25}}
    r = replace(r, "aav9", aav9)
    s["local-lab-codes"] = ("Labs under local codes; AAV9 titer as a Ratio under a local code", r)
    r = base("no-zolgensma")
    r = replace(r, "zolgensma-order", {
        "resourceType": "MedicationRequest", "id": "amoxicillin-order", "status": "draft", "intent": "order",
        "authoredOn": AUTHORED, "medicationCodeableConcept": {"text": "amoxicillin 250 mg/5 mL oral suspension"},
        "subject": {"reference": "Patient/{pid}"}})
    s["no-zolgensma"] = ("The draft order is amoxicillin, not Zolgensma", r)
    r = replace(base("no-steroid-plan"), "prednisolone-plan")
    s["no-steroid-plan"] = ("No corticosteroid order yet", r)
    r = base("dose-off-band")
    r = replace(r, "zolgensma-order", zolgensma_order(7.2, dose_ml=60.5))
    s["dose-off-band"] = ("Ordered 60.5 mL for a 7.2 kg infant (label 41.3 mL)", r)
    r = base("lft-high")
    r = replace(r, "alt", lab("alt", "1742-6", "ALT", 120, "U/L", "2026-11-17", 5, 45))
    s["lft-high"] = ("Baseline ALT 120 U/L (ULN 45): above 2 x ULN", r)
    r = replace(replace(base("site-office"), "enc-1"), "site-1")
    r += encounter("11", "Office", "Neurology office")
    s["site-office"] = ("Otherwise eligible, ordered for an office (POS 11)", r)
    # Issue 12 item 5: the label doses at the band's upper limit; the range is checked on the weight as measured.
    s["weight-between-bands"] = ("3.05 kg, between the printed bands: 3.1-3.5 kg band, 19.3 mL",
                                 base("weight-between-bands", weight_kg=3.05, birth="2026-09-01"))
    r = base("weight-below-table", weight_kg=2.58, birth="2026-09-01")
    r = replace(r, "prednisolone-plan", prednisolone_order(2.5))
    s["weight-below-table"] = ("2.58 kg, below the label's 2.6 kg (not rounded up into the table)", r)
    # Issue 12 item 10: risks that leave a criterion met still get a warning card.
    r = base("baseline-platelets-low")
    r = replace(r, "platelets", lab("platelets", "777-3", "Platelets", 112, "10*3/uL", "2026-11-17", 150, 450))
    s["baseline-platelets-low"] = ("Baseline platelets 112 x10^3/uL, below the lab's 150-450", r)
    r = base("baseline-alt-no-range")
    r = replace(r, "alt", lab("alt", "1742-6", "ALT", 130, "U/L", "2026-11-17"))
    s["baseline-alt-no-range"] = ("Baseline ALT 130 U/L with no reference range (ULN unknown)", r)
    r = base("turning-2-no-planned-date", weight_kg=11.0, birth="2024-12-05")
    r = replace(r, "ga-birth")
    r = replace(r, "zolgensma-order", _without_planned_date(zolgensma_order(11.0)))
    s["turning-2-no-planned-date"] = ("Turns 2 on 2026-12-05, 12 days after today; the order has no planned date", r)
    # Issue 12 item 11: a planned date before today (a typo: last year) is not a usable basis.
    r = base("planned-date-last-year")
    order = zolgensma_order(7.2)
    order["dosageInstruction"][0]["timing"]["event"] = ["2025-12-01"]
    r = replace(r, "zolgensma-order", order)
    s["planned-date-last-year"] = ("Planned infusion date 2025-12-01, a year before today (typo)", r)
    return s


# --- Clinical rules a reviewer would sign (issue 12: genetics, prior dose, advanced SMA, infection, prescriber,
# titer method): each is the eligible infant with one realistic chart change. ---------------------------------
def role(code, display):
    return {"resourceType": "PractitionerRole", "id": "neuro-1-role", "active": True,
            "practitioner": {"reference": "Practitioner/neuro-1"},
            "specialty": [{"coding": [{"system": "http://nucc.org/provider-taxonomy", "code": code,
                                       "display": display}]}]}


def smn1_result(id_, components=(), value_string=None, note=None, code=None):
    """An SMN1 result in the Genomics Reporting variant shape (gene studied SMN1 plus `components`)."""
    obs = {"resourceType": "Observation", "id": id_, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": "laboratory"}]}],
           "code": code or {"coding": [{"system": LOINC, "code": "69548-6", "display": "Genetic variant assessment"}]},
           "subject": {"reference": "Patient/{pid}"}, "effectiveDateTime": "2026-03-20"}
    comps = [] if code else [gene_component()]
    obs["component"] = comps + list(components)
    if not obs["component"]:
        del obs["component"]
    if value_string:
        obs["valueString"] = value_string
    else:
        obs["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": "LA9633-4", "display": "Present"}]}
    if note:
        obs["note"] = [{"text": note}]
    return obs


def gene_component():
    return {"code": {"coding": [{"system": LOINC, "code": "48018-6", "display": "Gene studied [ID]"}]},
            "valueCodeableConcept": {"coding": [{"system": "http://www.genenames.org/geneId",
                                                 "code": "HGNC:11117", "display": "SMN1"}]}}


def component(loinc, display, answer=None, answer_display=None, quantity=None, string=None):
    comp = {"code": {"coding": [{"system": LOINC, "code": loinc, "display": display}]}}
    if quantity is not None:
        comp["valueQuantity"] = {"value": quantity, "unit": "1", "system": UCUM, "code": "1"}
    elif string is not None:
        comp["valueString"] = string
    else:
        comp["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": answer, "display": answer_display}]}
    return comp


COPY_1 = component("82155-3", "Genomic structural variant copy number", quantity=1)
HETEROZYGOUS = component("53034-5", "Allelic state", "LA6706-1", "Heterozygous")
PATHOGENIC = component("53037-8", "Genetic variation clinical significance", "LA6668-3", "Pathogenic")
SMN1_TEXT_CODE = {"coding": [{"system": "http://lab.example-reference.com/tests", "code": "3350",
                              "display": "SMN1 deletion/duplication analysis"}], "text": "SMN1 deletion analysis"}


def clinical_rule_scenarios() -> dict[str, tuple[str, list[dict]]]:
    s = {}
    # item 2: the one-time dose, the product recognised however the record names it
    r = base("prior-dose-generic")
    r.append({"resourceType": "MedicationAdministration", "id": "outside-infusion", "status": "completed",
              "medicationCodeableConcept": {"text": "onasemnogene abeparvovec 2 x 10^13 vg/mL IV suspension"},
              "subject": {"reference": "Patient/{pid}"}, "effectiveDateTime": "2026-06-01"})
    s["prior-dose-generic"] = ("Prior dose named generically (no brand, NDC or -xioi suffix)", r)
    r = base("prior-dose-statement")
    r.append({"resourceType": "MedicationStatement", "id": "outside-hospital", "status": "completed",
              "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc",
                                                        "code": "71894-0125"}]},
              "subject": {"reference": "Patient/{pid}"}, "effectivePeriod": {"start": "2026-06-01"},
              "informationSource": {"display": "Outside hospital discharge summary"}})
    s["prior-dose-statement"] = ("Outside hospital's MedicationStatement (NDC product code)", r)
    r = base("prior-dose-procedure")
    r.append({"resourceType": "Procedure", "id": "infusion-procedure", "status": "completed",
              "code": {"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "96365"}],
                       "text": "IV infusion, initial, up to 1 hour"},
              "usedCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "71894-129"}]}],
              "subject": {"reference": "Patient/{pid}"}, "performedDateTime": "2026-06-01"})
    s["prior-dose-procedure"] = ("Infusion Procedure whose usedCode is a Zolgensma NDC product code", r)
    order = zolgensma_order(7.2)
    order["contained"] = [{"resourceType": "Medication", "id": "kit", "code": order.pop("medicationCodeableConcept")}]
    order["medicationReference"] = {"reference": "#kit"}
    s["draft-order-contained-medication"] = ("Draft Zolgensma order naming a contained Medication",
                                             replace(base("draft-order-contained-medication"), "zolgensma-order",
                                                     order))
    # item 3: advanced SMA beyond Conditions
    r = base("advanced-sma-tracheostomy")
    r.append({"resourceType": "Procedure", "id": "trach", "status": "completed",
              "code": {"coding": [{"system": "http://snomed.info/sct", "code": "48387007", "display": "Tracheotomy"}]},
              "subject": {"reference": "Patient/{pid}"}, "performedDateTime": "2026-09-14"})
    s["advanced-sma-tracheostomy"] = ("Tracheostomy Procedure (no Condition)", r)
    r = base("advanced-sma-home-ventilator")
    r += [{"resourceType": "Device", "id": "home-vent", "status": "active",
           "type": {"coding": [{"system": "http://snomed.info/sct", "code": "706172005",
                                "display": "Ventilator (physical object)"}]},
           "deviceName": [{"name": "Home ventilator", "type": "user-friendly-name"}],
           "patient": {"reference": "Patient/{pid}"}},
          {"resourceType": "DeviceUseStatement", "id": "home-vent-use", "status": "active",
           "subject": {"reference": "Patient/{pid}"}, "device": {"reference": "Device/home-vent"},
           "timingPeriod": {"start": "2026-10-02"}}]
    s["advanced-sma-home-ventilator"] = ("Home ventilator: Device and DeviceUseStatement", r)
    r = replace(base("genetics-negative-text"), "smn1-variant", smn1_result(
        "smn1-report", code=SMN1_TEXT_CODE,
        value_string="NEGATIVE: homozygous deletion of SMN1 exon 7 was not detected; 2 copies of SMN1"))
    s["genetics-negative-text"] = ("SMN1 report text only, negative (homozygous deletion not detected)", r)
    r = replace(base("genetics-carrier"), "smn1-variant", smn1_result(
        "smn1-cn", [COPY_1, HETEROZYGOUS, PATHOGENIC],
        note="Heterozygous deletion of SMN1 exon 7, 1 copy; bi-allelic loss not detected (carrier)"))
    s["genetics-carrier"] = ("SMN1 carrier: 1 copy, heterozygous, 'Pathogenic' on the deletion", r)
    r = replace(base("genetics-compound-het"), "smn1-variant", smn1_result("smn1-cn", [COPY_1]))
    r.append(smn1_result("smn1-snv", [component("48004-6", "DNA change (c.HGVS)", string="NM_000344.3:c.815A>G"),
                                      HETEROZYGOUS, PATHOGENIC]))
    s["genetics-compound-het"] = ("Compound heterozygote: SMN1 copy number 1 plus c.815A>G, two Observations", r)
    r = replace(base("genetics-text-positive"), "smn1-variant", smn1_result(
        "smn1-report", code=SMN1_TEXT_CODE,
        value_string="Homozygous deletion of SMN1 exon 7 detected (0 copies). Consistent with SMA."))
    s["genetics-text-positive"] = ("Bi-allelic SMN1 loss stated only in report text", r)
    r = replace(base("prescriber-psychiatrist"), "neuro-1-role",
                role("2084P0800X", "Psychiatry & Neurology, Psychiatry"))
    s["prescriber-psychiatrist"] = ("Ordered by a psychiatrist (NUCC 2084P0800X): not an SMA specialist", r)
    aav9 = titer("aav9", "2026-11-20", method=None)
    aav9["code"] = {"coding": [{"system": "http://lab.example-reference.com/tests", "code": "1190",
                                "display": "AAV9 neutralizing antibody (NAb) titer"}]}
    aav9.pop("referenceRange")
    s["titer-nab-by-name"] = ("AAV9 titer by a neutralising-antibody assay named only in the test's name",
                              replace(base("titer-nab-by-name"), "aav9", aav9))
    r = base("infection-cmv-45-days")
    r.append(condition("cmv", "http://snomed.info/sct", "28944009", "Cytomegalovirus infection", "2026-10-09"))
    s["infection-cmv-45-days"] = ("Active CMV infection coded only in SNOMED CT, onset 45 days ago", r)
    r = base("fever-last-night")
    r += [vital("temp-night", "8310-5", "Body temperature", 38.9, "Cel", "2026-11-22T23:10:00Z"),
          vital("temp-morning", "8310-5", "Body temperature", 36.9, "Cel", "2026-11-23T07:30:00Z")]
    s["fever-last-night"] = ("38.9 degC last night, 36.9 degC this morning", r)
    # Issue 12 item 6: GA at birth is the at-birth observation; a later "estimated" GA is GA on its own date.
    r = base("ga-later-estimate", weight_kg=2.9, birth="2026-11-03")
    r = replace(r, "ga-birth", vital("ga-birth", "76516-4", "Gestational age--at birth", 32, "wk", "2026-11-03"))
    r.append(vital("ga-estimate", "11884-4", "Gestational age Estimated", 34, "wk", "2026-11-17"))
    s["ga-later-estimate"] = ("Born at 32 weeks; 'estimated 34 weeks' two weeks later; 36 weeks corrected at infusion",
                              r)
    # Issue 12 item 7: the course must start by day -1 and run 30 days; ended orders do not count; concurrent
    # orders are added up (review); a total daily dose in mg/d is understood.
    r = replace(base("steroid-7-days"), "prednisolone-plan", steroid_order(7, "2026-11-30", "2026-12-06"))
    s["steroid-7-days"] = ("Prednisolone 7 mg/day for 7 days only (day -1 to day 5)", r)
    r = replace(base("steroid-ended-active"), "prednisolone-plan", steroid_order(7, "2026-08-26", "2026-09-24"))
    s["steroid-ended-active"] = ("Old prednisolone course, period ended 60 days ago, still 'active'", r)
    r = replace(base("steroid-two-orders"), "prednisolone-plan", steroid_order(7, "2026-11-30", "2026-12-29"))
    r.append(steroid_order(14, "2026-11-30", "2026-12-29", id_="prednisolone-plan-2"))
    s["steroid-two-orders"] = ("Two active prednisolone orders, 7 and 14 mg/day, same 30 days", r)
    r = replace(base("steroid-mg-per-day"), "prednisolone-plan",
                steroid_order(7, "2026-11-30", None, unit="mg/d", count=30))
    s["steroid-mg-per-day"] = ("Prednisolone 7 mg/d (total per day, UCUM mg/d), 30 doses from day -1 (repeat.count)", r)
    return s


# --- Clinician/payer review of the eligibility rules: each the eligible infant with one change. -----------------
def eligibility_review_scenarios() -> dict[str, tuple[str, list[dict]]]:
    s = {}
    r = replace(base("baseline-pt-prolonged"), "pt", lab("pt", "5902-2", "Prothrombin time", 30, "s", "2026-11-17",
                                                             10.5, 13.5))
    s["baseline-pt-prolonged"] = ("Baseline PT 30 s (ULN 13.5 s): coagulopathy before infusion", r)
    r = replace(base("baseline-inr-high"), "pt", lab("inr", "6301-6", "INR", 2.5, "{INR}", "2026-11-17", 0.8, 1.2))
    s["baseline-inr-high"] = ("Baseline INR 2.5 (ULN 1.2), no PT: coagulopathy before infusion", r)
    aav9 = titer("aav9", "2026-11-20", method=None)
    s["titer-method-unstated"] = ("Titer <1:25 with no method stated (Observation.method absent)",
                                  replace(base("titer-method-unstated"), "aav9", aav9))
    order = zolgensma_order(7.2)
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {
        "value": 1.1e14, "unit": "vg/kg", "system": UCUM, "code": "{vg}/kg"}
    order["dosageInstruction"][0]["text"] = "1.1e14 vg/kg IV over 60 minutes, once"
    s["dose-vg-per-kg"] = ("Zolgensma ordered as 1.1e14 vg/kg at 7.2 kg: no volume stated",
                           replace(base("dose-vg-per-kg"), "zolgensma-order", order))
    r = base("gastroenteritis-noninfective")
    r.append(condition("k52", "http://hl7.org/fhir/sid/icd-10-cm", "K52.9",
                       "Noninfective gastroenteritis and colitis, unspecified", "2026-11-10"))
    s["gastroenteritis-noninfective"] = ("Active noninfective gastroenteritis (K52.9): not an infection", r)
    r = base("bipap-dependent")
    bipap = condition("bipap", "http://hl7.org/fhir/sid/icd-10-cm", "Z99.89",
                      "Dependence on other enabling machines and devices", "2026-10-01")
    bipap["code"]["text"] = "Dependent on BiPAP 18 h/day"
    r.append(bipap)
    s["bipap-dependent"] = ("Full-time non-invasive ventilation: 'Dependent on BiPAP 18 h/day' (Z99.89)", r)
    for pid, value in (("titer-positive", "positive"), ("titer-not-detected", "Not detected")):
        s[pid] = (f"AAV9 titer reported as {value!r}, not a dilution",
                  replace(base(pid), "aav9", titer("aav9", "2026-11-20", value)))
    return s


def steroid_order(dose, start, end, id_="prednisolone-plan", unit="mg", count=None):
    """A prednisolone order once daily from `start`, to `end` (boundsPeriod) or for `count` doses."""
    order = prednisolone_order(dose)
    order["id"] = id_
    repeat = order["dosageInstruction"][0]["timing"]["repeat"]
    repeat["boundsPeriod"] = {"start": start, "end": end} if end else {"start": start}
    if count:
        repeat["count"] = count
    order["dosageInstruction"][0]["text"] = f"{dose} {unit} by mouth once daily from {start}"
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {"value": dose, "unit": unit, "system": UCUM,
                                                                       "code": unit}
    return order


def _without_planned_date(order: dict) -> dict:
    order["dosageInstruction"][0].pop("timing")
    return order


# --- After the infusion: monitoring scenarios (today = 2026-11-23) ---------------------------------
TODAY = date(2026, 11, 23)
NORMAL = {"alt": 30, "ast": 45, "tbili": 0.5, "pt": 12.2, "platelets": 300, "troponin": 0.01, "creatinine": 0.25}
LAB_SPECS = {  # id prefix -> (LOINC, display, unit, low, high)
    "alt": ("1742-6", "ALT", "U/L", 5, 45), "ast": ("1920-8", "AST", "U/L", 10, 60),
    "tbili": ("1975-2", "Bilirubin total", "mg/dL", 0.1, 1.2), "pt": ("5902-2", "Prothrombin time", "s", 10.5, 13.5),
    "platelets": ("777-3", "Platelets", "10*3/uL", 150, 450),
    "troponin": ("10839-9", "Troponin I", "ng/mL", None, 0.04),
    "creatinine": ("2160-0", "Creatinine", "mg/dL", 0.1, 0.4),
}


def draws(day0: date, day: int, tests=("alt", "ast", "tbili", "pt", "platelets", "troponin"), **values):
    out = []
    for test in tests:
        loinc, name, unit, low, high = LAB_SPECS[test]
        when = (day0 + timedelta(days=day)).isoformat()
        out.append(lab(f"{test}-d{day}", loinc, name, values.get(test, NORMAL[test]), unit, when, low, high))
    return out


def monitoring(pid: str, day_now: int, post: list[dict]) -> list[dict]:
    day0 = TODAY - timedelta(days=day_now)
    birth = (day0 - timedelta(days=240)).isoformat()
    return flat([
        {"resourceType": "Patient", "id": "{pid}", "name": [{"family": "Monitoring", "given": [pid]}],
         "gender": "male", "birthDate": birth},
        draws(day0, -4, ("alt", "ast", "tbili", "pt", "platelets", "troponin", "creatinine")),
        {"resourceType": "MedicationAdministration", "id": "zolgensma-infusion", "status": "completed",
         "medicationCodeableConcept": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "71894-129-05"}],
                                       "text": "Zolgensma kit"},
         "subject": {"reference": "Patient/{pid}"}, "effectiveDateTime": day0.isoformat()},
        post,
    ])


def assessment(id_, name, value, when, category="exam"):
    """A clinical assessment (motor scale or milestones) named by text only: no standard code is verified."""
    obs = {"resourceType": "Observation", "id": id_, "status": "final",
           "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                     "code": category}]}],
           "code": {"text": name}, "subject": {"reference": "Patient/{pid}"}, "effectiveDateTime": when}
    obs["valueInteger" if isinstance(value, int) else "valueString"] = value
    return obs


def after_month_3(pid: str, day0: date, assessments: list[dict]) -> list[dict]:
    """Infused on `day0`, every boxed-warning draw done and normal (monitoring over), plus `assessments`."""
    labs = [x for d in (7, 14, 21, 28, 42, 56, 70, 84)
            for x in draws(day0, d, ("alt", "ast", "tbili", "pt", "platelets") + (
                ("troponin",) if d in (7, 14, 21, 28, 56, 84) else ()))]
    return monitoring(pid, (TODAY - day0).days, labs + assessments)


def monitoring_scenarios() -> dict[str, tuple[str, list[dict]]]:
    s = {}
    s["monitoring-day-3"] = ("Day 3 after infusion: first draws not yet due", monitoring("monitoring-day-3", 3, []))
    d0 = TODAY - timedelta(days=20)
    s["monitoring-day-20"] = ("Day 20: weekly draws done, day-21 draw due", monitoring(
        "monitoring-day-20", 20, draws(d0, 7) + draws(d0, 14)))
    d0 = TODAY - timedelta(days=31)
    weekly = [x for d in (7, 14, 21, 28) for x in draws(d0, d)]
    s["monitoring-day-31-normal"] = ("Day 31: liver tests unremarkable at day 28: taper", monitoring(
        "monitoring-day-31-normal", 31, weekly))
    high = [x for d in (7, 14, 21) for x in draws(d0, d)] + draws(d0, 28, alt=120)
    s["monitoring-day-31-abnormal"] = ("Day 31: ALT 120 U/L (ULN 45) at day 28: hepatology", monitoring(
        "monitoring-day-31-abnormal", 31, high))
    d0 = TODAY - timedelta(days=45)
    s["monitoring-day-45-overdue"] = ("Day 45: draws of days 21 and 28 missed", monitoring(
        "monitoring-day-45-overdue", 45, draws(d0, 7) + draws(d0, 14)))
    d0 = TODAY - timedelta(days=100)
    days = (7, 14, 21, 28, 42, 56, 70, 84, 98)
    still = [x for d in days for x in draws(d0, d, ("alt", "ast", "tbili", "pt", "platelets"), alt=100)]
    still += [x for d in (7, 14, 21, 28, 56, 84) for x in draws(d0, d, ("troponin",))]
    s["monitoring-day-100-abnormal"] = ("Day 100: ALT still 100 U/L (ULN 45): monitoring continues", monitoring(
        "monitoring-day-100-abnormal", 100, still))
    d0 = TODAY - timedelta(days=10)
    tma = draws(d0, 7, platelets=60) + draws(d0, 7, ("creatinine",), creatinine=0.6)
    s["monitoring-tma"] = ("Day 10: platelets 60 with creatinine 0.6 mg/dL: possible TMA", monitoring(
        "monitoring-tma", 10, tma))
    # Issue 12 item 9: liver injury at any day; the first card shows the worst alert; unscheduled draws listed.
    d0 = TODAY - timedelta(days=15)
    injury = draws(d0, 7) + draws(d0, 14, alt=405, tbili=3.1, pt=16.5)  # ALT 9 x ULN, bilirubin 2.6 x ULN
    s["monitoring-day-14-liver-injury"] = ("Day 14: ALT 9 x ULN, bilirubin 2.6 x ULN, PT 16.5 s: acute liver injury",
                                           monitoring("monitoring-day-14-liver-injury", 15, injury))
    d0 = TODAY - timedelta(days=35)
    extra = [x for d in (7, 14, 21, 28) for x in draws(d0, d)] + draws(d0, 35, ("alt", "ast", "tbili", "pt"), alt=135)
    s["monitoring-day-35-unscheduled"] = ("Day 35: unscheduled draw, ALT 135 U/L (3 x ULN) after the steroid course",
                                          monitoring("monitoring-day-35-unscheduled", 35, extra))
    # Issue 17 part 2: outcomes milestone assessments at 6, 12, 24, 36, 60 months (+/- 30 days).
    s["monitoring-month-6-due"] = ("Month 6: the 6-month milestone assessment is due (window open)",
                                   after_month_3("monitoring-month-6-due", date(2026, 5, 25), []))
    s["monitoring-month-12-done"] = ("Month 12: 6- and 12-month assessments documented (CHOP-INTEND, milestones)",
                                     after_month_3("monitoring-month-12-done", date(2025, 11, 20), [
                                         assessment("chop-m6", "CHOP INTEND total score", 41, "2026-05-22"),
                                         assessment("milestones-m6", "Motor milestones", "head control; rolling",
                                                    "2026-05-22"),
                                         assessment("chop-m12", "CHOP INTEND total score", 52, "2026-11-18"),
                                         assessment("milestones-m12", "Motor milestones",
                                                    "sits without support for 30 seconds", "2026-11-18")]))
    s["monitoring-month-13-overdue"] = (
        "Month 13: the 12-month visit had HFMSE but no developmental milestones: overdue",
        after_month_3("monitoring-month-13-overdue", date(2025, 10, 1), [
            assessment("hfmse-m6", "HFMSE", 12, "2026-04-03"),
            assessment("milestones-m6", "Developmental milestones", "sitting", "2026-04-03"),
            assessment("hfmse-m12", "HFMSE", 15, "2026-10-05")]))
    r = monitoring("monitoring-no-infusion", 20, [])
    s["monitoring-no-infusion"] = ("No Zolgensma administration on record", replace(r, "zolgensma-infusion"))
    return s


# --- Before any order: readiness scenarios (zolgensma-readiness, patient-view; today = 2026-11-23) ----------
def readiness(pid: str, birth="2026-03-10", weight_kg=7.2, keep=("titer", "labs", "weight", "genetics")) -> list[dict]:
    """The eligible infant without her draft Zolgensma order and prednisolone plan (nothing ordered yet),
    keeping only the evidence named in `keep`."""
    drop = {"zolgensma-order", "prednisolone-plan", "enc-1", "site-1"}
    if "titer" not in keep:
        drop.add("aav9")
    if "labs" not in keep:
        drop |= {"alt", "ast", "tbili", "pt", "platelets", "troponin", "creatinine", "hgb"}
    if "weight" not in keep:
        drop.add("weight")
    if "genetics" not in keep:
        drop.add("smn1-variant")
    return [r for r in base(pid, weight_kg, birth) if r.get("id") not in drop]


def scheduled(order: dict, planned: str) -> dict:
    """The Zolgensma order as an active order on record, for `planned`."""
    order = copy.deepcopy(order)
    order["status"] = "active"
    order["dosageInstruction"][0]["timing"] = {"event": [planned]}
    return order


def appointment(id_: str, start: str, description: str, status="booked", **extra) -> dict:
    """A visit of this patient (participant actor) at the infusion center."""
    return {"resourceType": "Appointment", "id": id_, "status": status, "description": description,
            "start": start, "participant": [{"actor": {"reference": "Patient/{pid}"}, "status": "accepted"},
                                            {"actor": {"reference": "Location/infusion-center"},
                                             "status": "accepted"}], **extra}


def steroid_from(dose_mg: int, start: str) -> dict:
    """The prednisolone plan, 30 days from `start`."""
    plan = prednisolone_order(dose_mg)
    end = (date.fromisoformat(start) + timedelta(days=29)).isoformat()
    plan["dosageInstruction"][0]["text"] = f"{dose_mg} mg by mouth once daily for 30 days from {start}"
    plan["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] = {"start": start, "end": end}
    return plan


def readiness_scenarios() -> dict[str, tuple[str, list[dict]]]:
    s = {}
    s["readiness-nothing-done"] = ("SMA diagnosis only: no genetics, titer, labs or weight; nothing ordered",
                                   readiness("readiness-nothing-done", keep=()))
    s["readiness-all-done"] = ("Every gate met for the active Zolgensma order of 2026-12-01", flat([
        readiness("readiness-all-done"), prednisolone_order(7), scheduled(zolgensma_order(7.2), PLANNED)]))
    s["readiness-titer-too-early"] = (
        "Order for 2026-12-20; titer, labs and weight of 2026-11-17/20 will be too old by then",
        flat([readiness("readiness-titer-too-early"), scheduled(zolgensma_order(7.2), "2026-12-20")]))
    s["readiness-titer-expired"] = ("Titer of 2026-11-01: more than 14 days old already; nothing ordered", flat([
        replace(readiness("readiness-titer-expired"), "aav9", titer("aav9", "2026-11-01"))]))
    s["readiness-turning-2"] = ("Turns 2 on 2026-11-28: no feasible date before the second birthday",
                                readiness("readiness-turning-2", birth="2024-11-28", weight_kg=11.8,
                                          keep=("labs", "weight", "genetics")))
    heavy = readiness("readiness-over-21kg", birth="2025-01-15", weight_kg=21.4)
    heavy.append(vital("weight-sep", "29463-7", "Body weight", 20.6, "kg", "2026-09-20"))
    s["readiness-over-21kg"] = ("22 months, 21.4 kg (20.6 kg two months ago): over the label's 21 kg", heavy)
    s["readiness-appointment"] = (
        "No order; the infusion booked 2026-12-02 (appointment text names Zolgensma); other visits are not day 0",
        flat([readiness("readiness-appointment"),
              appointment("infusion-visit", "2026-12-02T09:00:00-05:00",
                          "Zolgensma (onasemnogene abeparvovec-xioi) IV infusion, day 0"),
              appointment("clinic-visit", "2026-11-26T10:00:00-05:00", "Neuromuscular clinic follow-up"),
              appointment("teaching-visit", "2026-11-25T14:00:00-05:00", "Zolgensma family teaching session"),
              appointment("old-infusion-slot", "2026-11-30T09:00:00-05:00", "Zolgensma infusion",
                          status="cancelled"),
              appointment("past-visit", "2026-11-02T09:00:00-05:00", "Zolgensma infusion day 0 (postponed)")]))
    s["readiness-infusion-request"] = (
        "Infusion requested as a service (J3399) for 2026-12-03; the appointment based on it is on 2026-12-04",
        flat([readiness("readiness-infusion-request"),
              {"resourceType": "ServiceRequest", "id": "zolgensma-infusion", "status": "active", "intent": "order",
               "code": {"coding": [{"system": "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                                    "code": "J3399"}], "text": "Gene therapy infusion"},
               "subject": {"reference": "Patient/{pid}"}, "authoredOn": AUTHORED,
               "occurrenceDateTime": "2026-12-03"},
              appointment("infusion-visit", "2026-12-04T08:30:00-05:00", "Infusion center, 4 h chair",
                          basedOn=[{"reference": "ServiceRequest/zolgensma-infusion"}])]))
    s["readiness-steroid-later"] = (
        "No order or appointment; prednisolone planned from 2026-12-07: the plan is for 2026-12-08",
        flat([readiness("readiness-steroid-later"), steroid_from(7, "2026-12-07")]))
    s["readiness-not-concerned"] = ("No SMA diagnosis and no SMN1 result: the readiness service is quiet", [
        r for r in readiness("readiness-not-concerned", keep=("labs", "weight")) if r.get("id") != "sma"])
    return s


def bundle(pid: str, description: str, resources: list[dict]) -> dict:
    text = json.dumps(resources).replace("{pid}", pid)
    return {"resourceType": "Bundle", "id": pid, "type": "collection",
            "meta": {"tag": [{"system": "https://zolgensma-cds.example.org/scenario", "code": pid,
                              "display": description}]},
            "entry": [{"fullUrl": f"urn:scenario:{r['resourceType']}/{r['id']}", "resource": r}
                      for r in json.loads(text)]}


def main() -> None:
    for pid, (description, resources) in {**scenarios(), **clinical_rule_scenarios(),
                                          **eligibility_review_scenarios(), **monitoring_scenarios(),
                                          **readiness_scenarios()}.items():
        path = HERE / f"{pid}.json"
        path.write_text(json.dumps(bundle(pid, description, resources), indent=1) + "\n")


if __name__ == "__main__":
    main()
