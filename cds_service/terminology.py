"""Clinical codes and value sets, in one place.

Every code carries its source and verification status from the project's reference notes
(clinical-facts.md, copied facts only; nothing here is read at run time). Codes marked
UNVERIFIED/MEMORY are used only to *recognise* incoming data, never emitted as authoritative
codes in suggested orders.
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"  # HL7 THO code system URL
UCUM = "http://unitsofmeasure.org"
NUCC = "http://nucc.org/provider-taxonomy"
HGNC = "http://www.genenames.org/geneId"

# FHIR R4 request-status (MedicationRequest, ServiceRequest) of an order that still plans care: not yet given,
# not ended (completed, revoked/stopped, cancelled, entered-in-error). One set for every reader and rule.
OPEN_REQUEST_STATUSES = ("draft", "active", "on-hold")
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"  # CRD 2.0.1 card types, _cmsLocation POS codes
POS_SYSTEMS = (POS, CRD_TEMP)
HCPCS_SYSTEMS = (HCPCS, "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                 "https://bluebutton.cms.gov/resources/codesystem/hcpcs", "urn:oid:2.16.840.1.113883.6.285")
CPT = "http://www.ama-assn.org/go/cpt"
# WHO ICD-10 (not the US clinical modification: its codes differ below the category, e.g. Z99.1 "Dependence on
# respirator" where ICD-10-CM has Z99.11); THO retired it as a code system record, but data still carry it.
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
# The same code systems under the other identifiers records carry (review 2026-11-24g G1: a Condition coded under
# the ICD-10-CM OID, as C-CDA-derived FHIR sends it, was not recognised, and the answer was "can go ahead"). OIDs
# checked 2026-11-24 against the HL7 Terminology (THO) CodeSystem/NamingSystem records: ICD-10-CM
# urn:oid:2.16.840.1.113883.6.90, CPT urn:oid:2.16.840.1.113883.6.12, ICD-10 urn:oid:2.16.840.1.113883.6.3 (and
# THO's stub URI http://terminology.hl7.org/CodeSystem/icd10). The https spellings are the same URLs as written by
# hand. The translator reads every alias as its canonical system (translate/common.canonical_system, compared
# without case), so every rule compares one system; nothing emitted ever carries an alias.
ICD10CM_SYSTEMS = (ICD10CM, "https://hl7.org/fhir/sid/icd-10-cm", "urn:oid:2.16.840.1.113883.6.90")
CPT_SYSTEMS = (CPT, "https://www.ama-assn.org/go/cpt", "urn:oid:2.16.840.1.113883.6.12")
ICD10_WHO_SYSTEMS = (ICD10_WHO, "https://hl7.org/fhir/sid/icd-10", "urn:oid:2.16.840.1.113883.6.3",
                     "http://terminology.hl7.org/CodeSystem/icd10")
SYSTEM_ALIASES = {alias.lower(): canonical for canonical, aliases in (
    (ICD10CM, ICD10CM_SYSTEMS), (CPT, CPT_SYSTEMS), (ICD10_WHO, ICD10_WHO_SYSTEMS), (HCPCS, HCPCS_SYSTEMS))
    for alias in aliases}


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str
    verified: bool = True

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.code)

    def coding(self) -> dict:
        return {"system": self.system, "code": self.code, "display": self.display}


# --- Laboratory and vital-sign observations (clinical-facts.md section 2.1) -------------------
ALT = Code(LOINC, "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma")
AST = Code(LOINC, "1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma")
BILI_MASS = Code(LOINC, "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma")
BILI_MOLES = Code(LOINC, "14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", verified=False)
PT = Code(LOINC, "5902-2", "Prothrombin time (PT)")
INR = Code(LOINC, "6301-6", "INR in Platelet poor plasma by Coagulation assay")
INR_POC = Code(LOINC, "34714-6", "INR in Blood by Coagulation assay", verified=False)
PLATELETS = Code(LOINC, "777-3", "Platelets [#/volume] in Blood by Automated count")
PLATELETS_ANY = Code(LOINC, "26515-7", "Platelets [#/volume] in Blood", verified=False)
TROPONIN_I = Code(LOINC, "10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma")
TROPONIN_I_HS = Code(LOINC, "89579-7", "Troponin I.cardiac [Mass/volume] in Serum or Plasma by High sensitivity method")
TROPONIN_I_SENS = Code(LOINC, "49563-0", "Troponin I.cardiac [Mass/volume] in Serum or Plasma", verified=False)
TROPONIN_I_WB = Code(LOINC, "42757-5", "Troponin I.cardiac [Mass/volume] in Blood", verified=False)
CREATININE = Code(LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma")
HEMOGLOBIN = Code(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood")
CBC_PANEL = Code(LOINC, "58410-2", "CBC panel - Blood by Automated count")
HEPATIC_PANEL = Code(LOINC, "24325-3", "Hepatic function 2000 panel - Serum or Plasma")
BODY_WEIGHT = Code(LOINC, "29463-7", "Body weight")  # FHIR vital-signs profile code
BODY_WEIGHT_MEASURED = Code(LOINC, "3141-9", "Body weight Measured", verified=False)
GA_AT_BIRTH = Code(LOINC, "76516-4", "Gestational age--at birth")
GA_ESTIMATED = Code(LOINC, "11884-4", "Gestational age Estimated")
# Body temperature: the FHIR vital-signs code, and the site-specific codes EHR feeds send instead of it (review
# 2026-11-24b D4). All seen in the Medizininformatik-Initiative ICU module profiles (gematik ISiK backport,
# SD_MII_ICU_Koerpertemperatur_*, checked 2026-11-24), each with its LOINC display. Rectal is 8332-9 and
# tympanic 8333-7 (not 8332-8 / 8333-6).
BODY_TEMPERATURE = Code(LOINC, "8310-5", "Body temperature")
CORE_TEMPERATURE = Code(LOINC, "8329-5", "Body temperature - Core")
ORAL_TEMPERATURE = Code(LOINC, "8331-1", "Oral temperature")
RECTAL_TEMPERATURE = Code(LOINC, "8332-9", "Rectal temperature")
AXILLARY_TEMPERATURE = Code(LOINC, "8328-7", "Axillary temperature")
TYMPANIC_TEMPERATURE = Code(LOINC, "8333-7", "Tympanic membrane temperature")
NASAL_TEMPERATURE = Code(LOINC, "76010-8", "Nasal temperature")
TEMPERATURES = (BODY_TEMPERATURE, CORE_TEMPERATURE, ORAL_TEMPERATURE, RECTAL_TEMPERATURE, AXILLARY_TEMPERATURE,
                TYMPANIC_TEMPERATURE, NASAL_TEMPERATURE)
COPY_NUMBER = Code(LOINC, "82155-3", "Genomic structural variant copy number")
GENE_STUDIED = Code(LOINC, "48018-6", "Gene studied [ID]", verified=False)
CLINICAL_SIGNIFICANCE = Code(LOINC, "53037-8", "Genetic variation clinical significance [Imp]")
PATHOGENIC = Code(LOINC, "LA6668-3", "Pathogenic")
SMN1_TEST = Code(LOINC, "35462-1", "SMN1 gene targeted mutation analysis", verified=False)
# HL7 Genomics Reporting variant shape (Observation with components). The allelic-state answers are from the
# LOINC 53034-5 answer list published with FHIR STU3 (LA6705-3/LA6706-1/LA6707-9); the others are MEMORY:
# recognition only, never emitted.
VARIANT_ASSESSMENT = Code(LOINC, "69548-6", "Genetic variant assessment", verified=False)
DNA_CHANGE_C_HGVS = Code(LOINC, "48004-6", "DNA change (c.HGVS)", verified=False)
GENOMIC_DNA_CHANGE = Code(LOINC, "81290-9", "Genomic DNA change (gHGVS)", verified=False)
AMINO_ACID_CHANGE = Code(LOINC, "48005-3", "Amino acid change (pHGVS)", verified=False)
DISCRETE_VARIANT = Code(LOINC, "81252-9", "Discrete genetic variant", verified=False)
VARIANT_IDENTIFIERS = (DNA_CHANGE_C_HGVS, GENOMIC_DNA_CHANGE, AMINO_ACID_CHANGE, DISCRETE_VARIANT)  # preferred first
ALLELIC_STATE = Code(LOINC, "53034-5", "Allelic state")
ZYGOSITY_ANSWERS = {"LA6705-3": "homozygous", "LA6706-1": "heterozygous", "LA6707-9": "hemizygous"}
LIKELY_PATHOGENIC = Code(LOINC, "LA26332-9", "Likely pathogenic", verified=False)
PATHOGENIC_ANSWERS = {"LA6668-3": "pathogenic", "LA26332-9": "likely pathogenic"}
VARIANT_ABSENT = Code(LOINC, "LA9634-2", "Absent", verified=False)  # 69548-6 answered "Absent": no variant
# Searching for SMN1 results by code (the observation's own code; components are found by the fallback).
GENETICS_SEARCH_CODES = (VARIANT_ASSESSMENT, SMN1_TEST, COPY_NUMBER, CLINICAL_SIGNIFICANCE)
SMN1_GENE = Code(HGNC, "HGNC:11117", "SMN1")
SMN2_GENE = Code(HGNC, "HGNC:11118", "SMN2")

# Analyte value sets: a concept is recognised by any of these codes, by a configured local
# code, or by an exact (normalised) name below. The AAV9 titer has no LOINC code
# (clinical-facts.md 2.1: "none found"), so it is matched by local code or by text.
ANALYTES: dict[str, tuple[Code, ...]] = {
    "alt": (ALT,),
    "ast": (AST,),
    "bilirubin": (BILI_MASS, BILI_MOLES),
    "pt": (PT,),
    "inr": (INR, INR_POC),
    "platelets": (PLATELETS, PLATELETS_ANY),
    "troponin-i": (TROPONIN_I, TROPONIN_I_HS, TROPONIN_I_SENS, TROPONIN_I_WB),
    "creatinine": (CREATININE,),
    "hemoglobin": (HEMOGLOBIN,),
    "weight": (BODY_WEIGHT, BODY_WEIGHT_MEASURED),
    # GA at birth is only the at-birth observation; any other GA (estimated, corrected) is GA on its own date.
    "gestational-age": (GA_AT_BIRTH,),
    "gestational-age-estimated": (GA_ESTIMATED,),
    "temperature": TEMPERATURES,
    "aav9-titer": (),
}

ANALYTE_NAMES: dict[str, tuple[str, ...]] = {
    "alt": ("alt", "alanine aminotransferase", "sgpt", "alt sgpt", "alanine transaminase"),
    "ast": ("ast", "aspartate aminotransferase", "sgot", "ast sgot", "aspartate transaminase"),
    "bilirubin": ("total bilirubin", "bilirubin total", "bilirubin", "tbili", "t bili"),
    "pt": ("pt", "prothrombin time", "protime"),
    "inr": ("inr", "pt inr"),
    "platelets": ("platelets", "platelet count", "plt"),
    "troponin-i": ("troponin i", "troponin i cardiac", "ctni", "tni", "hs troponin i"),
    "creatinine": ("creatinine", "serum creatinine"),
    "hemoglobin": ("hemoglobin", "haemoglobin", "hgb"),
    "weight": ("weight", "body weight"),
    "gestational-age": ("gestational age at birth", "gestational age at delivery", "birth gestational age"),
    "gestational-age-estimated": ("gestational age", "gestational age estimated", "estimated gestational age",
                                  "corrected gestational age", "postmenstrual age"),
    "temperature": ("temperature", "body temperature", "temp", "core temperature", "body temperature core",
                    "core body temperature", "oral temperature", "rectal temperature", "axillary temperature",
                    "tympanic temperature", "tympanic membrane temperature", "ear temperature", "nasal temperature",
                    "temporal artery temperature", "temporal temperature"),
    "aav9-titer": (),
    # Outcomes milestone assessments (rules/milestones.py). No LOINC or SNOMED CT code for CHOP-INTEND, HFMSE,
    # RHS or a developmental-milestone assessment could be verified (searched 2026-11-23), so none is emitted or
    # matched by code: they are recognised by the test's exact name (Observation.code text or display, after
    # normalisation) or by a site code mapped to these names in CDS_LOCAL_CODES.
    "chop-intend": ("chop intend", "chop intend total score", "chop intend score",
                    "children s hospital of philadelphia infant test of neuromuscular disorders"),
    "hfmse": ("hfmse", "hfmse total score", "hfmse score", "hammersmith functional motor scale expanded",
              "expanded hammersmith functional motor scale"),
    "rhs": ("rhs total score", "revised hammersmith scale", "revised hammersmith scale total score"),
    "developmental-milestones": ("developmental milestones", "motor milestones", "who motor milestones",
                                 "hine section 2", "hine 2", "hammersmith infant neurological examination section 2",
                                 "developmental milestone assessment"),
}
ASSESSMENT_KINDS = frozenset({"chop-intend", "hfmse", "rhs", "developmental-milestones"})
# Free text of an SMN1 report (genetics.py): phrases that affirm bi-allelic loss, and what negates them within
# the same clause or marks a carrier / normal result anywhere in the report. Text alone is never `met`.
BIALLELIC_TEXT = ("homozygous deletion", "homozygous loss", "homozygously deleted", "bi allelic", "biallelic",
                  "0 copies", "zero copies", "no copies of smn1", "absence of smn1", "absent smn1",
                  "compound heterozygous", "compound heterozygote", "two pathogenic variants")
NEGATION_TEXT = ("not detected", "not identified", "not found", "not present", "not seen", "not observed",
                 "no evidence", "negative", "ruled out", "excluded", "not consistent", "absent", "none detected",
                 "was not", "were not", "no ")
CARRIER_TEXT = ("carrier", "heterozygous deletion", "heterozygous loss", "1 copy", "one copy", "2 copies",
                "two copies", "3 copies", "three copies", "normal", "silent carrier")
AAV9_TEXT_MARKERS = ("aav9", "aav 9", "aav-9", "adeno-associated virus serotype 9")
# Titer method (policy DR.005.D criterion 6: "by ELISA"), read from Observation.method, else from the test's
# code display and name. Matched on normalised words (lower case, punctuation as spaces).
ELISA_METHOD_TEXT = ("elisa", "enzyme linked immunosorbent", "enzyme immunoassay", "eia")
# Other anti-AAV9 assays: cell-based neutralising-antibody / transduction-inhibition assays, and
# electrochemiluminescence or other immunoassays that are not ELISA.
NOT_ELISA_METHOD_TEXT = ("neutralizing", "neutralising", "neutralization", "neutralisation", "nab",
                         "transduction inhibition", "transduction", "cell based", "tia", "luciferase",
                         "electrochemiluminescence", "ecl", "ecla", "eclia", "chemiluminescence", "clia",
                         "radioimmunoassay", "ria")
# "CLIA" also names the US laboratory certification (Clinical Laboratory Improvement Amendments): these phrases name
# the lab, not the assay, and are read past ("ELISA (CLIA-certified reference lab)" is ELISA; review 2026-11-24f F8).
CLIA_CERTIFICATION_TEXT = ("clia certified", "clia certificated", "clia approved", "clia licensed", "clia accredited",
                           "clia lab", "clia laboratory")
# What a lab writes in a parenthesis after the dilution, or in Observation.note, beside an AAV9 titer (review
# 2026-11-24f F2). Matched on normalised words (lower case, punctuation as spaces), the whole parenthesis.
# Qualifiers that only restate the result, with what they say (a contradiction with the value:
# rules/eligibility._flag_against).
# "confirmed" phrases say the reported dilution was checked: nothing to act on. Any other parenthesis is a
# comment the service cannot read: `review`, quoted ("1:25 (repeat at higher dilution 1:400)").
TITER_QUALIFIERS = {
    "negative": "negative", "neg": "negative", "not detected": "negative", "none detected": "negative",
    "nonreactive": "negative", "non reactive": "negative", "normal": "negative", "within normal limits": "negative",
    "positive": "positive", "pos": "positive", "detected": "positive", "reactive": "positive",
    "borderline": "equivocal", "equivocal": "equivocal", "indeterminate": "equivocal",
    "confirmed": "", "result confirmed": "", "repeated and confirmed": "", "repeat confirmed": "",
    "reflex dilution performed result confirmed": "", "elisa": "", "by elisa": "", "total antibody": "",
    "total ab": "",
}
# A comment (in the parenthesis or a note) saying the specimen was unfit: the result is not a measurement of the
# patient's serum: `unknown`, re-draw. Matched as whole normalised words or phrases.
TITER_SPECIMEN_PROBLEM_TEXT = (
    "hemolyzed", "haemolysed", "haemolyzed", "hemolysed", "hemolysis", "haemolysis", "lipemic", "lipaemic",
    "icteric", "clotted", "recollect", "re collect", "recollection", "redraw", "re draw", "insufficient",
    "qns", "quantity not sufficient", "specimen rejected", "rejected", "unsuitable", "contaminated",
    "improperly collected", "improperly stored", "leaked", "specimen unacceptable", "unacceptable",
)
# A note beside a titer that points away from the value: another result, a repeat, an addendum, a correction.
# (A note naming another dilution "1:N" counts too: quantities.TITER_IN_TEXT.) `review`, quoted.
TITER_NOTE_REVIEW_TEXT = (
    "repeat", "repeated", "repeating", "retest", "re test", "retested", "addendum", "amended", "corrected",
    "correction", "see comment", "see note", "disregard", "erroneous", "in error", "discrepant", "questionable",
    "invalid", "pending", "to follow", "higher dilution", "further dilution",
)

# Observation.interpretation, the lab's flag on a result (review 2026-11-24f F4), compared with the value read: a flag
# that contradicts it sends the criterion to review. HL7 v3 ObservationInterpretation (terminology.hl7.org, checked
# 2026-11-24: N, L, LL, DET, ND; POS, NEG, A, AA, H, HH, HU, LU, IND are the same code system's flags) and HL7 v2
# table 0078, which carries the same codes. A flag is read by code in these systems, or by its text.
INTERPRETATION_SYSTEMS = ("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                          "http://terminology.hl7.org/CodeSystem/v2-0078")
INTERPRETATION_CODES = {
    "POS": "positive", "DET": "positive", "NEG": "negative", "ND": "negative", "N": "normal",
    "A": "abnormal", "AA": "abnormal", "H": "high", "HH": "high", "HU": "high", "L": "low", "LL": "low",
    "LU": "low", "IND": "equivocal",
}
INTERPRETATION_TEXT = {
    "positive": "positive", "detected": "positive", "reactive": "positive", "negative": "negative",
    "not detected": "negative", "non reactive": "negative", "nonreactive": "negative", "normal": "normal",
    "abnormal": "abnormal", "critical abnormal": "abnormal", "high": "high", "critical high": "high",
    "significantly high": "high", "low": "low", "critical low": "low", "significantly low": "low",
    "indeterminate": "equivocal", "equivocal": "equivocal", "borderline": "equivocal",
}

# A result labelled as another person's (review 2026-11-24f F3): the mother's AAV9 titer, a parent's SMN1 carrier
# test, a sibling's result filed on the infant's chart. Not this patient's measurement: never evidence. Matched as
# whole normalised words in Observation.code (text, displays) and Observation.specimen.display; the value says
# whose it is, as the card words it. Not "cord blood": a cord sample is the infant's own blood at birth (dated and
# judged like any other result). Not where the text says "reported" ("weight, mother reported" is the infant's).
OTHER_PERSON_TEXT = {
    "maternal": "the mother's", "mother": "the mother's", "mothers": "the mother's", "mother s": "the mother's",
    "mom": "the mother's", "mum": "the mother's",
    "paternal": "the father's", "father": "the father's", "fathers": "the father's", "father s": "the father's",
    "dad": "the father's", "sibling": "a sibling's", "siblings": "a sibling's", "sibling s": "a sibling's",
}
OTHER_PERSON_EXCEPT_TEXT = ("reported",)

# --- Medications ----------------------------------------------------------------------------
# Zolgensma kit NDCs: product codes 120..156 of labeler 71894, one per 0.5 kg band
# (clinical-facts.md 1.3; pattern "product code = 120 + band index").
ZOLGENSMA_LABELER = "71894"
ZOLGENSMA_PRODUCT_CODES = range(120, 157)
# The vials inside the kits: bedside barcode administration (BCMA) scans the vial, so an administration may be
# coded with the vial's NDC, not the kit's. 71894-115-01 "8.3 mL in 1 VIAL" is VERIFIED (openFDA NDC record of kit
# 71894-120-02; clinical-facts.md 1.3); its product code 115 is recognised with any package. Recognised in incoming
# data only, never emitted (orders name kits). The 5.5 mL vial's NDC (clinical-facts 1.3: "probably 71894-110-01")
# is UNVERIFIED and not listed: it reads as an unidentified product of the labeler (below), never as Zolgensma.
ZOLGENSMA_VIAL_8_3_ML = Code(NDC, "71894-115-01", "Zolgensma 8.3 mL vial")
ZOLGENSMA_VIAL_PRODUCT_CODES = frozenset({115})
# Any other NDC of labeler 71894 (Novartis Gene Therapies, Zolgensma's labeler) is a product of Zolgensma's maker
# that this service cannot identify: it may be a Zolgensma vial or kit whose code is not listed here, or another
# product (Itvisma, onasemnogene abeparvovec-brve, clinical-facts 1.7: its NDC could not be verified here, so it is
# told apart by its name only). Such a record may be a Zolgensma dose: the criteria that rest on "no Zolgensma on
# record" are `unknown`, never decided from it either way.
# J3399's descriptor is the billing guide publisher's, unconfirmed against the CMS file (clinical-facts.md 2.5):
# recognised, never emitted as a display.
J3399 = Code(HCPCS, "J3399",
              "Injection, onasemnogene abeparvovec-xioi, per treatment, up to 5x10^15 vector genomes")
# Brand and generic names (FDA label title: "ZOLGENSMA (onasemnogene abeparvovec-xioi)"); the generic name
# without the -xioi suffix is how many records write it ("onasemnogene abeparvovec 2 x 10^13 vg/mL IV").
# RxNorm RxCUIs for the product could not be verified here: RxNorm codings are recognised by their display
# name, or a site maps its RxCUI in CDS_LOCAL_CODES ("http://www.nlm.nih.gov/research/umls/rxnorm|<rxcui>":
# "zolgensma").
ZOLGENSMA_TEXT = ("zolgensma", "abeparvovec-xioi", "onasemnogene abeparvovec", "onasemnogene")
# Itvisma (onasemnogene abeparvovec-brve) is a different, intrathecal product (clinical-facts 1.7).
NOT_ZOLGENSMA_TEXT = ("itvisma", "abeparvovec-brve", "intrathecal")
# A prior dose of the same AAV9-SMN1 vector under another name: Itvisma (onasemnogene abeparvovec-brve, intrathecal;
# clinical-facts 1.7), "AVXS-101" (Zolgensma's development code in its published trials, e.g. STR1VE; not in our
# reference files: recognised in incoming text only, never emitted), or
# onasemnogene with any suffix. NOT_ZOLGENSMA_TEXT sets these apart when matching the product ORDERED; for the
# one-time-dose criterion they are an earlier dose of the same gene therapy (DR.005.D renewal: one-time-only
# treatment; repeat administration not evaluated): `review`, never `met` (review 2026-11-24e item T4).
# Matched as words, hyphens and spaces alike ("avxs 101", "avxs101").
# "OAV101" / "OAV-101" (review 2026-11-24g G2) is Novartis's development code for onasemnogene abeparvovec, written
# for the intrathecal programme that became Itvisma ("intrathecal (IT) OAV101", EU CTR 2021-003474-31 (STEER);
# "Intrathecal onasemnogene abeparvovec (OAV101 IT)", STRENGTH NCT05386680) and for the IV product in published
# reports: checked with public trial registers and abstracts; recognised in incoming text only, never emitted.
SAME_VECTOR_TEXT = ("itvisma", "onasemnogene", "abeparvovec", "avxs 101", "avxs101", "oav 101", "oav101")
# A gene-therapy infusion recorded without naming the product (review 2026-11-24e item T3): a completed Procedure
# whose code text, display, note or usedCode text says "gene therapy" / "gene replacement" / "gene transfer" / AAV9
# (Zolgensma's vector: "adeno-associated virus vector-based gene therapy", FDA label 1, MEMORY), or
# names the vector (SAME_VECTOR_TEXT, ZOLGENSMA_TEXT) only in its note. Such a record may be the Zolgensma dose: a
# possible prior dose (`review`), never a dose. Matched on normalised words (terminology is free text here).
# "SMN1" alone is not a signal: SMN1 testing is recorded on every candidate ("AAV9 SMN1 ..." counts by "aav9").
GENE_THERAPY_TEXT = ("gene therapy", "gene therapies", "gene replacement", "gene transfer", "aav9", "aav 9",
                     "scaav9", "adeno associated")
# The one value set naming the therapy a prior dose would be of, strongest first: the product, the same vector under
# another name, a gene therapy unnamed. Every resource family that may record a dose (administration, statement,
# dispense, immunization, order, procedure, service request, condition) reads it through translate/therapy_text.py,
# so that their vocabularies cannot drift apart again (review 2026-11-24g G2: the ServiceRequest path knew only
# "gene therapy", the medication paths only the product names, Conditions were not read).
PRIOR_DOSE_TEXT = (("product", ZOLGENSMA_TEXT + SAME_VECTOR_TEXT), ("gene-therapy", GENE_THERAPY_TEXT))
# A Condition (problem list) is a state, not an act: it names a dose given only in words like these ("S/p Zolgensma
# infusion 03/2026", "history of gene replacement therapy", "Zolgensma-induced hepatitis"). Project choice.
DOSE_HISTORY_TEXT = ("s p", "status post", "post", "history", "hx", "h o", "after", "following", "received",
                     "infused", "given", "administered", "treated", "dosed", "induced", "related", "prior",
                     "previous", "previously")
# ... and says it was not (yet) given in words like these ("gene therapy candidate", "Zolgensma planned"). With
# NOT_ADMINISTRATION_TEXT below. A Condition naming the product is read as a possible dose unless it says so and
# no word of DOSE_HISTORY_TEXT says otherwise; one naming a gene therapy only, when a history word says it was given
# and none of these words denies it.
DOSE_NOT_GIVEN_TEXT = ("candidate", "candidacy", "plan", "planned", "plans", "scheduled", "pending", "awaiting",
                       "await", "eligible", "ineligible", "consider", "considering", "considered", "discussed",
                       "referred", "not yet", "never", "no prior", "no previous", "no history", "naive", "declined",
                       "deferred", "workup", "work up", "future", "upcoming", "candidates")
# Words saying the therapy was given, and the administration codes used for this infusion: CPT 96365 (+96366), and
# 96413 / 96374 / 79101, which the billing guide lists as the wrong codes sites send (002 guide, "Wrong admin CPT";
# clinical-facts 2.5 and 5.1 G2; CPT descriptors MEMORY, AMA: recognition only, never emitted). With one of these, a
# gene-therapy text is an infusion whatever else it says.
INFUSION_TEXT = ("infusion", "infused", "infuse", "infusing", "administration", "administered", "given",
                 "intravenous", "iv")
INFUSION_PROCEDURES = frozenset({(CPT, c)
                                 for c in ("96365", "96366", "96374", "96413", "79101")})
# Without such a word or code, a gene-therapy text that names an activity around the therapy, not the therapy given
# (a consult, counselling, an eligibility work-up, an AAV9 antibody test), is not read as an infusion.
NOT_ADMINISTRATION_TEXT = ("consult", "consultation", "counsel", "counseling", "counselling", "education",
                           "evaluation", "assessment", "screening", "referral", "eligibility", "antibody",
                           "antibodies", "titer", "titre", "test", "testing", "assay", "planning", "discussion")
# Resources that name a medication (medication[x]) and may record a dose or an order.
MEDICATION_RESOURCES = ("MedicationRequest", "MedicationAdministration", "MedicationStatement", "MedicationDispense")
# MedicationDispense statuses under which the product was (or is being) handed over: a possible dose given
# (FHIR R4 medicationdispense-status; review 2026-11-24e T1). "unknown" cannot be read either way.
DISPENSE_HANDED_OVER = ("completed", "in-progress")
# "stopped" is not among them (review 2026-11-24g G10): R4 defines it as halted "before all of them occurred", so part
# of the dispense may have happened; like a stopped order, it is read as a record that cannot say whether any was given.
DISPENSE_NOT_A_DOSE = ("preparation", "on-hold", "cancelled", "entered-in-error", "declined")
# Immunization statuses (FHIR R4 immunization-status: completed | entered-in-error | not-done) that are no dose given
# (review 2026-11-24e T5); any other status fails validation and is reported.
IMMUNIZATION_NOT_GIVEN = ("not-done", "entered-in-error")
# MedicationStatement statuses that are not a dose given (FHIR R4 medication-statement-status).
STATEMENT_NOT_A_DOSE = ("not-taken", "entered-in-error", "intended")

PREDNISOLONE = Code(RXNORM, "8638", "prednisolone")
PREDNISONE = Code(RXNORM, "8640", "prednisone")
PREDNISOLONE_15MG_5ML = Code(RXNORM, "283077", "prednisolone 3 MG/ML Oral Solution", verified=False)
PREDNISOLONE_25MG_5ML = Code(RXNORM, "249066", "prednisolone 5 MG/ML Oral Solution", verified=False)
CORTICOSTEROID_CODES = frozenset(c.key for c in (PREDNISOLONE, PREDNISONE, PREDNISOLONE_15MG_5ML,
                                                  PREDNISOLONE_25MG_5ML))
CORTICOSTEROID_TEXT = ("prednisolone", "prednisone", "methylprednisolone")
# Routes of a corticosteroid order (DR.005.D 7: "systemic corticosteroids"; label 2.1: equivalent to oral
# prednisolone). SNOMED CT route codes (FHIR value set route-codes, descendants of 284009009, checked in the
# published expansion): oral 26643006, intravenous 47625008, intramuscular 78421000, subcutaneous 34206005 are
# systemic; topical 6064005, otic 10547007, intra-articular 12130007, vaginal 16857009, rectal 37161004 are not.
# Words (route text and displays, whole words) do the rest; a route that is neither: not recognised (unknown).
SYSTEMIC_ROUTES = frozenset({(SNOMED, c) for c in ("26643006", "47625008", "78421000", "34206005")})
LOCAL_ROUTES = frozenset({(SNOMED, c) for c in ("6064005", "10547007", "12130007", "16857009", "37161004")})
SYSTEMIC_ROUTE_WORDS = ("oral", "orally", "by mouth", "po", "per os", "enteral", "intravenous", "iv", "intramuscular",
                        "im", "subcutaneous", "sc", "gastrostomy", "g tube", "gastric tube", "nasogastric", "ng",
                        "ng tube", "feeding tube", "per tube", "jejunostomy", "sublingual", "buccal")
LOCAL_ROUTE_WORDS = ("topical", "cutaneous", "skin", "transdermal", "ophthalmic", "eye", "eyes", "otic", "ear",
                     "ears", "inhaled", "inhalation", "inhaler", "nebulised", "nebulized", "nebuliser", "nebulizer",
                     "respiratory", "nasal", "intranasal", "rectal", "rectum", "per rectum", "pr", "vaginal",
                     "intra articular", "intralesional", "mucosal", "dental")
# Product words of a corticosteroid that is not taken systemically (eye drops, creams, inhalers, enemas).
LOCAL_PRODUCT_WORDS = ("ophthalmic", "eye drop", "eye drops", "otic", "ear drops", "cream", "ointment", "lotion",
                       "topical", "inhaler", "inhalation", "nasal spray", "enema", "suppository", "rectal foam",
                       "mouthwash")

# Antimicrobials (policy criterion 10: clinical-facts 5.1 row 10 counts an active antimicrobial MedicationRequest as
# evidence of infection). A course being given now means an infection is being treated, or prevented: the
# criterion goes to review with the order named, never decided by it. Recognised by:
# - WHO ATC class (J01 antibacterials, J02 antimycotics, J04 antimycobacterials, J05 antivirals, all "for
#   systemic use"; J06 immune sera and J07 vaccines are not antimicrobials). Verified: openFDA substance record
#   of amoxicillin, ATC J01CA04 "ANTIINFECTIVES FOR SYSTEMIC USE|ANTIBACTERIALS FOR SYSTEMIC USE|...".
ATC = "http://www.whocc.no/atc"
ANTIMICROBIAL_ATC_PREFIXES = ("J01", "J02", "J04", "J05")
# - RxNorm ingredient RxCUIs. Verified in the CPIC drug table (cpicpgx/cpic-schema drug.sql, 2026-11-24):
#   2348 chloramphenicol, 2551 ciprofloxacin, 4053 erythromycin, 6038 isoniazid, 7240 nalidixic acid,
#   7454 nitrofurantoin, 7517 norfloxacin, 10171 sulfadiazine, 10207 sulfisoxazole, 10831 sulfamethoxazole /
#   trimethoprim, 37801 terbinafine, 82122 levofloxacin, 121243 voriconazole, 139462 moxifloxacin.
#   Unverified (memory; recognition only): 723 amoxicillin, 733 ampicillin, 2193 ceftriaxone, 2231 cephalexin,
#   2582 clindamycin, 10829 trimethoprim, 11124 vancomycin, 18631 azithromycin, 25037 cefdinir.
#   Orders are usually coded at the product level (SCD/SBD), whose display names the ingredient: the names below.
ANTIMICROBIAL_RXNORM = frozenset({(RXNORM, c) for c in (
    "2348", "2551", "4053", "6038", "7240", "7454", "7517", "10171", "10207", "10831", "37801", "82122", "121243",
    "139462", "723", "733", "2193", "2231", "2582", "10829", "11124", "18631", "25037")})
# - Names (normalised words of the code's text or display; a name alone gives at most `review`, as a code does).
#   Monoclonal RSV prophylaxis (palivizumab, nirsevimab) is not an antimicrobial and is not listed.
ANTIMICROBIAL_TEXT = (
    "amoxicillin", "augmentin", "ampicillin", "penicillin", "nafcillin", "oxacillin", "dicloxacillin",
    "flucloxacillin", "piperacillin", "azithromycin", "clarithromycin", "erythromycin", "cephalexin", "cefalexin",
    "cefadroxil", "cefazolin", "cefuroxime", "cefprozil", "cefdinir", "cefpodoxime", "cefixime", "ceftriaxone",
    "cefotaxime", "ceftazidime", "cefepime", "ceftaroline", "meropenem", "imipenem", "ertapenem", "aztreonam",
    "gentamicin", "tobramycin", "amikacin", "vancomycin", "clindamycin", "linezolid", "metronidazole",
    "trimethoprim", "sulfamethoxazole", "bactrim", "nitrofurantoin", "ciprofloxacin", "levofloxacin",
    "moxifloxacin", "doxycycline", "minocycline", "rifampin", "rifampicin", "isoniazid", "colistin",
    "chloramphenicol", "fluconazole", "itraconazole", "voriconazole", "posaconazole", "micafungin", "caspofungin",
    "amphotericin", "nystatin", "acyclovir", "aciclovir", "valacyclovir", "ganciclovir", "valganciclovir",
    "oseltamivir", "zanamivir", "baloxavir", "remdesivir", "nirmatrelvir", "antibiotic", "antimicrobial")

# --- Conditions -----------------------------------------------------------------------------
SMA_SNOMED = Code(SNOMED, "5262007", "Spinal muscular atrophy (disorder)")
SMA_TYPE_1 = Code(ICD10CM, "G12.0", "Infantile spinal muscular atrophy, type I [Werdnig-Hoffman]")
SMA_OTHER_INHERITED = Code(ICD10CM, "G12.1", "Other inherited spinal muscular atrophy")
SMA_UNSPECIFIED = Code(ICD10CM, "G12.9", "Spinal muscular atrophy, unspecified")
SMA_DIAGNOSES = frozenset(c.key for c in (SMA_SNOMED, SMA_TYPE_1, SMA_OTHER_INHERITED, SMA_UNSPECIFIED))
# Condition.verificationStatus (FHIR R4 code system http://terminology.hl7.org/CodeSystem/condition-ver-status:
# unconfirmed, provisional and differential are kinds of unconfirmed; confirmed; refuted; entered-in-error). With
# several codings, the first of this order counts (the most cautious reading).
CONDITION_VERIFICATION_ORDER = ("refuted", "differential", "provisional", "unconfirmed", "confirmed")
# Uncertain diagnoses: not coded for outpatient services (ICD-10-CM Official Guidelines for Coding and Reporting,
# Section IV.H "Uncertain diagnosis"; checked 2026-11-24 against secondary sources quoting it, AAPC and others,
# not against the CDC/CMS PDF itself).
UNCERTAIN_VERIFICATION = frozenset({"unconfirmed", "provisional", "differential"})
# Codes the billing guide glosses as SMA evidence but which are not (clinical-facts.md 2.4).
NOT_SMA_EVIDENCE = {
    "Z13.228": "Encounter for screening for other metabolic disorders",
    "Z82.0": "Family history of epilepsy and other diseases of the nervous system",
    "Z00.121": "Encounter for routine child health examination with abnormal findings",
}

# Advanced SMA markers (policy criterion 3). ICD-10-CM codes are MEMORY in clinical-facts 2.4:
# used to recognise data only.
VENTILATOR_DEPENDENCE = Code(ICD10CM, "Z99.11", "Dependence on respirator [ventilator] status", verified=False)
TRACHEOSTOMY_STATUS = Code(ICD10CM, "Z93.0", "Tracheostomy status", verified=False)
# SNOMED CT 444932008 "Dependence on ventilator (finding)": seen in OMOP and FHIR condition examples
# (recognition only).
VENTILATOR_DEPENDENCE_SCT = Code(SNOMED, "444932008", "Dependence on ventilator (finding)", verified=False)
ADVANCED_SMA_CODES = frozenset(c.key for c in (VENTILATOR_DEPENDENCE, TRACHEOSTOMY_STATUS,
                                                VENTILATOR_DEPENDENCE_SCT))
# The same by ICD-10-CM prefix (dotless, any case, as rules/conditions.py compares them), with the codes that
# name a tracheostomy without saying "status" (review 2026-11-24f F1): Z43.0 "Encounter for attention to
# tracheostomy" and J95.0 "Tracheostomy complications" (J95.00 unspecified, J95.01 hemorrhage from, J95.02
# infection of, J95.03 malfunction of tracheostomy stoma, J95.04 tracheo-esophageal fistula following
# tracheostomy, J95.09 other). Z43.0 and J95.00-J95.09 checked 2026-11-24 against published FY2026 ICD-10-CM
# code pages (not the CMS tabular itself). J95.02 also counts as an infection (INFECTION_ICD10_PREFIXES): a
# stoma infection is both an infection and evidence of a tracheostomy. Recognition only.
ADVANCED_SMA_ICD10_PREFIXES = ("Z99.11", "Z93.0", "Z43.0", "J95.0")
# The same in WHO ICD-10 (review 2026-11-24g G1), whose codes stop where ICD-10-CM's go on: Z99.1 "Dependence on
# respirator" (ICD-10-CM splits it into Z99.11 status and Z99.12 power failure), Z93.0 "Tracheostomy status", Z43.0
# "Attention to tracheostomy", J95.0 "Tracheostomy malfunction" (Z99.1 and J95.0 checked 2026-11-24 in published
# ICD-10 tables; Z93.0 and Z43.0 share ICD-10-CM's titles, from memory). Recognition only.
ADVANCED_SMA_WHO_ICD10_PREFIXES = ("Z99.1", "Z93.0", "Z43.0", "J95.0")
# Complete paralysis of the limbs (DR.005.D 3 "complete limb paralysis"; FDA label 1 limitations of use "complete
# paralysis of limbs"): ICD-10-CM G82.5 "Quadriplegia" (G82.50 unspecified, G82.51-G82.54 C1-C4 / C5-C7 complete
# or incomplete), G82.21 "Paraplegia, complete" and G83.9 "Paralytic syndrome, unspecified" (block G80-G83
# "Cerebral palsy and other paralytic syndromes"; checked 2026-11-24 against published ICD-10-CM tables).
# Matched as prefixes of the dotless code; recognition only. Each sends the request to review, never decides it.
PARALYSIS_ICD10_PREFIXES = ("G82.5", "G82.21", "G83.9")
# WHO ICD-10 has no "complete" axis: G82.3 "Flaccid tetraplegia", G82.4 "Spastic tetraplegia", G82.5 "Tetraplegia,
# unspecified" (checked 2026-11-24 in a published ICD-10 table) and G83.9 "Paralytic syndrome, unspecified" (memory).
PARALYSIS_WHO_ICD10_PREFIXES = ("G82.3", "G82.4", "G82.5", "G83.9")
PARALYSIS_TEXT = ("quadriplegi", "tetraplegi", "paralytic syndrome", "paralysis of all four limbs",
                  "paralysis of both upper and lower limbs",
                  # "Flaccid paralysis of all extremities" (review 2026-11-24f F1)
                  "paralysis of all extremities", "paralysis of all limbs", "paralysis of all four extremities")
# Clinicians' shorthand for a tracheostomy and a ventilator ("Trach and vent dependent", "Trach/vent since
# 09/2026", "Home vent (invasive)", "Shiley trach 3.5"; review 2026-11-24f F1), matched as WHOLE words of the
# text lower-cased with punctuation as spaces (respiratory_text.word_text), never inside another word: not
# "ventricular", "event", "prevent", "ventral", "trachea". A word alone gives at most `review`.
TRACH_WORDS = (" trach ", " trachs ", " trached ")
VENT_WORDS = (" vent ", " vents ", " vented ")
# Read in context (cds_service/respiratory_text.py; review 2026-11-24g G9: each of these sent an ordinary NICU or SMA
# record to Medical Director review). Matched on normalised words (lower case, punctuation as spaces).
# 1. Phrases that contain a marker word but name something else, removed before matching: a ventilation-perfusion
#    mismatch or scan; a "trach aspirate" (NICU shorthand for an endotracheal aspirate culture); venting a G-tube
#    (routine in SMA type 1: "vented to gravity", a Farrell "vent bag").
NOT_RESPIRATORY_PHRASES = ("ventilation perfusion", "ventilation and perfusion", "trach aspirate", "trach aspirates",
                           "vent bag", "vent bags", "vented to gravity", "vent to gravity", "vents to gravity",
                           "venting to gravity", "g tube vent", "g tube vented", "g tube venting", "gtube vent",
                           "gastrostomy vent", "gravity vent", "vent the g tube", "vent the stomach", "farrell valve")
# 2. Negations: a marker right after one of these, with only filler words between, does not count ("no trach, no
#    vent", "off vent since day 2", "not on home vent", "weaned off CPAP").
RESPIRATORY_NEGATIONS = ("no", "off", "not", "never", "without", "weaned off", "weaned from", "free of", "denies")
NEGATION_FILLERS = ("longer", "on", "the", "a", "any", "home", "or", "and", "need", "for", "further", "nocturnal",
                    "trach", "vent", "ventilator", "cpap", "bipap", "invasive", "mechanical")
# 3. A clause naming the brain's ventricles reads "vent(s)" as ventricles (cranial ultrasound: "IVH grade I; vents not
#    dilated on cranial US").
VENTRICLE_CONTEXT = ("ivh", "intraventricular", "cranial", "head us", "head ultrasound", "hus", "ventricles",
                     "ventricle", "ventriculomegaly", "dilated", "dilatation", "dilation")
# 4. A sentence naming apnea of prematurity or the delivery reads CPAP, ventilation and intubation as a newborn's
#    transitional support, not SMA's ("Apnea of prematurity, treated with CPAP"; "Intubation and mechanical
#    ventilation at delivery"). "trach", "vent", "ventilator dependence", "tracheostomy" still count there.
NEWBORN_CONTEXT = ("apnea of prematurity", "apnoea of prematurity", "aop", "at delivery", "at birth", "delivery room",
                   "resuscitation", "resuscitated")
NEWBORN_SUPPORT_WORDS = ("cpap", "ventilation", "intubation", "intubated")
# Advanced-SMA procedures (evidence for review). SNOMED CT 48387007 "Tracheotomy" (FHIR R4 Procedure example
# f201) and 1258985005 "Invasive mechanical ventilation (regime/therapy)" (German and HL7 ventilation
# profiles); ICD-10-PCS 5A1935Z/5A1945Z/5A1955Z "Respiratory Ventilation, <24 / 24-96 / >96 consecutive
# hours" and 0B110F4/0B110Z4/0B113F4/0B113Z4/0B114F4/0B114Z4 "Bypass Trachea to Cutaneous" (tracheostomy), as
# used together in public code lists. CPT tracheostomy codes (AMA descriptors as quoted by public CPT code pages,
# checked 2026-11-24; review 2026-11-24f F1): 31600 "Tracheostomy, planned (separate procedure)", 31601 the same
# "younger than 2 years", 31603 "Tracheostomy, emergency procedure; transtracheal", 31605 the same
# "cricothyroid membrane", 31610 "Tracheostomy, fenestration procedure with skin flaps". Recognition only.
ICD10PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
TRACHEOSTOMY_CPT = ("31600", "31601", "31603", "31605", "31610")
ADVANCED_SMA_PROCEDURES = frozenset(
    {(SNOMED, "48387007"), (SNOMED, "1258985005")}
    | {(ICD10PCS, c) for c in ("5A1935Z", "5A1945Z", "5A1955Z", "0B110F4", "0B110Z4", "0B113F4", "0B113Z4",
                               "0B114F4", "0B114Z4")}
    | {(CPT, c) for c in TRACHEOSTOMY_CPT})
# CPT ventilation management (checked 2026-11-24 as above): 94002 "Ventilation assist and management, initiation
# of pressure or volume preset ventilators for assisted or controlled breathing; hospital inpatient/observation,
# initial day", 94003 the same "each subsequent day", 94004 the same "nursing facility, per day". Management may
# be of a non-invasive ventilator, so like the words "ventilation" or "BiPAP" it counts only while the procedure
# may still be going on (PROCEDURE_ONGOING): review, never silence (review 2026-11-24f F1).
VENTILATION_MANAGEMENT = frozenset((CPT, c) for c in ("94002", "94003", "94004"))
# A finished ventilation-management procedure (CPT 94002-94004, billed as a completed procedure for each day) or one
# named "mechanical ventilation" counts when it is current: ended within the last 30 days before today (it may still
# go on), lasted 14 days or more (clinical-facts 5.1 row 3: support for >= 14 days), or carries no date (review
# 2026-11-24g G4, G9: CPT 94003 completed yesterday was "can go ahead", while ventilation at delivery in January was
# review). The 30 days are this service's choice (the policy gives no window): long enough to cover a ventilated
# stay, short enough to let a NICU course at birth pass.
VENTILATION_RECENT_DAYS = 30
VENTILATION_PROLONGED_DAYS = 14
TRACHEOSTOMY_PROCEDURE_TEXT = ("tracheostomy", "tracheotomy")
VENTILATION_PROCEDURE_TEXT = ("invasive mechanical ventilation", "invasive ventilation", "mechanical ventilation")
NOT_INVASIVE_TEXT = ("non-invasive", "noninvasive", "non invasive", "decannulation")
# A home ventilator (Device, DeviceUseStatement). SNOMED CT 706172005 "Ventilator (physical object)" (FHIR
# examples; recognition only). Words: ventilators of any kind, bi-level devices, tracheostomy tubes.
VENTILATOR_DEVICES = frozenset({(SNOMED, "706172005")})
# HCPCS Level II home ventilators (Device.type, DeviceRequest.code; checked 2026-11-24 against published HCPCS 2026
# code pages; review 2026-11-24f F1): E0465 "Home ventilator, any type, used with invasive interface, (e.g.,
# tracheostomy tube)"; E0466 "Home ventilator, any type, used with non-invasive interface, (e.g., mask, chest
# shell)", which goes to review like a BiPAP does. Matched under any HCPCS system URI (HCPCS_SYSTEMS).
VENTILATOR_HCPCS = ("E0465", "E0466")
# "tracheostomy"/"tracheotomy" alone: a "Tracheostomy care kit" is a tracheostomy's supplies (review 2026-11-24g G4).
VENTILATOR_TEXT = ("ventilator", "bipap", "bi-level", "bilevel", "tracheostomy", "tracheotomy", "trach tube")
# Home ventilators named only by model (Device.deviceName, no type; review 2026-11-24b K1b). Models from published
# bench evaluations of home-care ventilators (Respir Care 2011;56:1791: LTV 1000/1200, Puritan Bennett 540,
# Trilogy, Vela, iVent 101, HT50; Respir Care 2021;66:1531: Monnal T50, EOVE EO-150, Puritan Bennett 560,
# PrismaVent 50, Trilogy Evo, Astral 150, Vivo 60); VOCSN (Ventec) from memory. Matched on normalised words; a
# name alone gives at most review, like every advanced-SMA marker.
VENTILATOR_MODEL_TEXT = (" trilogy", " astral", " ltv 1", " ltv 9", " ltv1", " ltv9", "puritan bennett", " monnal",
                         " eove", " prismavent", " vivo 45", " vivo 50", " vivo 60", " vivo 65", " ivent",
                         " newport ht", " vocsn", " vela ")
# Procedure.status values under which a procedure may still be going on: respiratory support recorded as such a
# Procedure (BiPAP 16 h/day, in progress) counts by the same words as a Condition (ADVANCED_SMA_TEXT); a finished
# one counts only if invasive (TRACHEOSTOMY_PROCEDURE_TEXT; VENTILATION_PROCEDURE_TEXT while current).
PROCEDURE_ONGOING = ("in-progress", "on-hold", "unknown")
DEVICE_USE_CURRENT = ("active", "on-hold", "intended")  # R4 DeviceUseStatement statuses: in use or planned
# R4 DeviceRequest statuses (request-status) that take a request back: revoked, entered-in-error. Every other one
# counts (review 2026-11-24f F1): draft, active, on-hold as DeviceUseStatement's planned or in use; completed (the
# request fulfilled: the device supplied) and unknown too, since "no advanced SMA" must not rest on them.
DEVICE_REQUEST_WITHDRAWN = ("revoked", "entered-in-error")
PROCEDURE_NOT_DONE = ("preparation", "not-done", "entered-in-error")  # anything else may have been done
ADVANCED_SMA_TEXT = ("tracheostomy", "ventilator dependen", "ventilator-dependen", "invasive ventilation",
                     "complete paralysis", "complete limb paralysis", "permanent ventilation",
                     # Ventilation dependence by any route, non-invasive included (BiPAP many hours a day): the
                     # text sends the request to review, never decides it (DR.005.D criterion 3 refers).
                     "ventilator", "ventilation", "bipap", "bi-pap", "bilevel", "bi-level", "cpap",
                     "dependent on respirat", "dependence on respirat")

# Infection (policy criterion 10). SNOMED 40733004 is MEMORY.
INFECTIOUS_DISEASE = Code(SNOMED, "40733004", "Infectious disease (disorder)", verified=False)
# Without a terminology server the service cannot test SNOMED CT subsumption (descendants of 40733004), so
# common paediatric infection concepts are listed, and the display/text words below catch the rest.
# Recognition only (unverified: seen in public SNOMED-ICD-10 mapping tables, not checked against a release).
SNOMED_INFECTIONS = {
    "71186008": "Croup (J05.0)", "5758002": "Bacteremia", "4120002": "Bronchiolitis (J21.9)",
    "28944009": "Cytomegalovirus infection", "91302008": "Sepsis", "233604007": "Pneumonia",
    "65363002": "Otitis media", "68566005": "Urinary tract infectious disease", "6142004": "Influenza",
    "840539006": "COVID-19", "55735004": "Respiratory syncytial virus infection",
    "25374005": "Gastroenteritis", "128045006": "Cellulitis", "7180009": "Meningitis",
}
INFECTION_SNOMED_CODES = frozenset({(SNOMED, code) for code in SNOMED_INFECTIONS} | {INFECTIOUS_DISEASE.key})
# ICD-10-CM infections, matched as prefixes of the code without its dot ("U07.1", "U071" and "u07.1" alike).
# ICD-10-CM classifies infections by body system as well as in chapter 1, so the chapter alone misses most of
# them (review 2026-11-24b D2). Chapter, block and category titles checked 2026-11-24 against published
# ICD-10-CM tables (FY2024-2026 code pages and the CMS tabular as quoted there); "unverified": from memory,
# recognised in incoming data only (nothing here is ever emitted).
INFECTION_ICD10_PREFIXES = (
    # Chapter 1, A00-B99 "Certain infectious and parasitic diseases" (its B90-B94 sequelae are excluded below).
    "A", "B",
    "U07.1",  # COVID-19 (ICD-10-CM emergency code; HL7 COVID-19 ICD diagnosis value set)
    # G00-G09 "Inflammatory diseases of the central nervous system": meningitis (G00-G03), encephalitis, myelitis
    # and encephalomyelitis (G04-G05), intracranial and intraspinal abscess (G06-G07). G08 (phlebitis) and G09
    # (sequelae: "not an active infection") are left out.
    "G00", "G01", "G02", "G03", "G04", "G05", "G06", "G07",
    # Ear and eye: H60.0-H60.3 abscess / cellulitis / malignant / other infective otitis externa; H65.0-H65.1
    # acute nonsuppurative otitis media; H66 suppurative and unspecified otitis media; H67 otitis media in
    # diseases classified elsewhere; H70 mastoiditis and related conditions; H05.0 acute inflammation of orbit
    # (orbital cellulitis); H10.0 mucopurulent, H10.3 unspecified acute and H10.9 unspecified conjunctivitis (in an
    # infant mostly infective; H10.1 acute atopic and the other specified kinds are not listed); H44.0 purulent
    # endophthalmitis (unverified).
    "H60.0", "H60.1", "H60.2", "H60.3", "H65.0", "H65.1", "H66", "H67", "H70", "H05.0", "H10.0", "H10.3", "H10.9",
    "H44.0",
    # Heart: I33 acute and subacute endocarditis (I33.0 infective); I30.1 infective pericarditis and I40.0
    # infective myocarditis (unverified).
    "I33", "I30.1", "I40.0",
    # Respiratory: J00-J22 acute respiratory infections, influenza and pneumonia; J32 chronic sinusitis; J34.0
    # abscess of nose (unverified); J36 peritonsillar abscess; J39.0 retropharyngeal and parapharyngeal abscess;
    # J39.1 other abscess of pharynx; J69 pneumonitis due to solids and liquids ("aspiration pneumonia NOS", common
    # in SMA); J85 abscess of lung and mediastinum; J86 pyothorax; J95.02 infection of tracheostomy stoma; J95.851
    # ventilator associated pneumonia.
    "J0", "J1", "J20", "J21", "J22", "J32", "J34.0", "J36", "J39.0", "J39.1", "J69", "J85", "J86", "J95.02",
    "J95.851",
    # Digestive: K12.2 cellulitis and abscess of mouth; K35 acute appendicitis; K61 abscess of anal and rectal
    # regions; K65 peritonitis (K65.4 sclerosing mesenteritis excluded below); K94.02 / K94.12 / K94.22
    # colostomy / enterostomy / gastrostomy infection (gastrostomies are common in SMA); K94.32 esophagostomy
    # infection (unverified).
    "K12.2", "K35", "K61", "K65", "K94.02", "K94.12", "K94.22", "K94.32",
    # Skin: L00-L08 "Infections of the skin and subcutaneous tissue" (L05 pilonidal cyst only with abscess:
    # L05.01, L05.91); L30.3 infective dermatitis.
    "L00", "L01", "L02", "L03", "L04", "L05.01", "L05.91", "L08", "L30.3",
    # Bone and joint: M86 osteomyelitis; M46.2 osteomyelitis of vertebra; M00 pyogenic arthritis and M72.6
    # necrotizing fasciitis (unverified).
    "M86", "M46.2", "M00", "M72.6",
    # Urinary: N10 acute pyelonephritis; N12 tubulo-interstitial nephritis not specified as acute or chronic
    # ("pyelonephritis NOS"); N30.0 acute cystitis (unverified); N39.0 urinary tract infection, site not specified;
    # N48.2 / N49 / N76.4 genital abscess (listed under L02's excludes).
    "N10", "N12", "N30.0", "N39.0", "N48.2", "N49", "N76.4",
    # Perinatal: P23 congenital pneumonia ("infective pneumonia acquired in utero or during birth"); P35-P39
    # "Infections specific to the perinatal period" (congenital viral diseases, sepsis of newborn, omphalitis, ...).
    "P23", "P35", "P36", "P37", "P38", "P39",
    # Symptoms: R50 fever of other and unknown origin (any fever: the label asks for a clinically stable child);
    # R56.0 febrile convulsions; R65.2 severe sepsis; R78.81 bacteremia.
    "R50", "R56.0", "R65.2", "R78.81",
    # Complications of care: T80.2 infections following infusion, transfusion and therapeutic injection (central
    # line infections); T81.4 infection following a procedure; T82.6-T82.7, T83.5-T83.6, T84.5-T84.7, T85.7
    # infections due to prosthetic devices, implants and grafts (T80.2's excludes note); T88.0 infection following
    # immunization. A seventh character "S" (sequela) is not an active infection (see below).
    "T80.2", "T81.4", "T82.6", "T82.7", "T83.5", "T83.6", "T84.5", "T84.6", "T84.7", "T85.7", "T88.0",
)
# WHO ICD-10 shares the categories above (ICD-10-CM subdivides beneath them; the CM-only subcodes simply never match),
# except R65: in WHO ICD-10, R65.0/R65.1 are SIRS of infectious origin and R65.2/R65.3 SIRS of NON-infectious origin
# (memory; recognition only). Review 2026-11-24g G1.
INFECTION_WHO_ICD10_PREFIXES = tuple(p for p in INFECTION_ICD10_PREFIXES if p != "R65.2") + ("R65.0", "R65.1")
# Not infections, although under a prefix above or named with an infection word: K52 "Other and unspecified
# noninfective gastroenteritis and colitis"; B90-B94 "Sequelae of infectious and parasitic diseases" ("not to be
# used for chronic infections": the disease itself is no longer present); K65.4 sclerosing mesenteritis (aseptic).
NONINFECTIVE_ICD10_PREFIXES = ("K52", "B90", "B91", "B92", "B93", "B94", "K65.4")
# Words (matched on the normalised display/text: lower case, punctuation as spaces, padded with one space, so
# " uti " is a whole word). Negated phrases are removed first.
NONINFECTIVE_TEXT = ("noninfective", "non infective", "noninfectious", "non infectious", "afebrile",
                     "without fever", "no fever", "hay fever", "allergic", "atopic")
INFECTION_TEXT = ("infection", "infectious", "infective", "infected", "sepsis", "septic", "pneumonia",
                  "pneumonitis", "bronchiolitis", "bronchitis", "tracheitis", "epiglottitis", "laryngitis",
                  "otitis media", "otitis externa", "mastoiditis", "viral illness", "febrile", "fever", "pyrexia",
                  "covid", "sars cov", "coronavirus", " rsv ", "respiratory syncytial", "influenza", "rhinovirus",
                  "enterovirus", "adenovirus", "metapneumovirus", "norovirus", "rotavirus", "cellulitis",
                  "gastroenteritis", "croup", "laryngotracheitis", "bacteremia", "bacteraemia", "viremia",
                  "viraemia", "cytomegalovirus", " cmv ", "meningitis", "encephalitis", "encephalomyelitis",
                  "ventriculitis", "pharyngitis", "tonsillitis", "sinusitis", "abscess", "empyema", "pyothorax",
                  "peritonitis", "appendicitis", "endocarditis", "omphalitis", "impetigo", "lymphadenitis",
                  "mastitis", "conjunctivitis", "varicella", "chickenpox", "measles", "pertussis", "whooping cough",
                  "tuberculosis", "herpes", "osteomyelitis", "septic arthritis", "necrotizing fasciitis",
                  "pyelonephritis", "pyelitis", "cystitis", "urinary tract infection", " uti ", " urti ", " lrti ",
                  " vap ", " clabsi ", "candidiasis", " thrush ")
# Fever: >= 38.0 degC (the common paediatric definition, e.g. AAP/NICE; the label names no number) on any
# temperature taken in the last 2 days, not only the latest: a fever last night counts even if this morning's
# reading is normal. The window is counted back from today (infection is about now, not the planned date).
FEVER_THRESHOLD_C = 38.0
FEVER_WINDOW_DAYS = 2
# Analytes whose every reading counts: readings of one day differ by the hour (a fever at night, normal in
# the morning) without contradicting each other, so they are never treated as disagreeing results.
SERIES_ANALYTES = frozenset({"temperature"})

# --- Practitioner specialty (policy criterion 1; clinical-facts.md 2.5) ------------------------
NEUROLOGY = Code(NUCC, "2084N0400X", "Psychiatry & Neurology, Neurology")
CHILD_NEUROLOGY = Code(NUCC, "2084N0402X",
                       "Psychiatry & Neurology, Neurology with Special Qualifications in Child Neurology")
NEUROMUSCULAR = Code(NUCC, "2084N0008X", "Psychiatry & Neurology, Neuromuscular Medicine", verified=False)
PMR_NEUROMUSCULAR = Code(NUCC, "2081N0008X", "Physical Medicine & Rehabilitation, Neuromuscular Medicine",
                         verified=False)
# SNOMED CT practice-setting concept (HL7 practice-setting value set, "Neurology"); seen in public copies of
# that value set, not in clinical-facts.md: recognition only.
SNOMED_NEUROLOGY = Code(SNOMED, "394591006", "Neurology (qualifier value)", verified=False)
SMA_SPECIALTIES = frozenset(c.key for c in (NEUROLOGY, CHILD_NEUROLOGY, NEUROMUSCULAR, PMR_NEUROMUSCULAR,
                                            SNOMED_NEUROLOGY))
# A specialty coded in one of these systems is decided by its code alone: NUCC 2084P0800X "Psychiatry &
# Neurology, Psychiatry" is not neurology although its display contains the word.
SPECIALTY_CODE_SYSTEMS = (NUCC, SNOMED)
# A site's own specialty codes are mapped by configuration (CDS_LOCAL_CODES) to this kind.
LOCAL_SPECIALTY_KIND = "sma-specialty"
# Text fallback (no code from a known system): NUCC's classification name "Psychiatry & Neurology" is removed
# first, then the text must name neurology or neuromuscular medicine and must not name psychiatry.
SMA_SPECIALTY_TEXT = ("neurolog", "neuromuscular")
NUCC_CLASSIFICATION_TEXT = ("psychiatry & neurology", "psychiatry and neurology")
NOT_SMA_SPECIALTY_TEXT = ("psychiatr",)

# --- Coverage product lines (policy DR.005.D "Product variations") ------------------------------
# Source of Payment Typology top-level codes (PHDSC SOPT): 1 Medicare, 2 Medicaid.
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
COVERED_LINE_TEXT = {"medicaid": "medicaid", "healthchoices": "medicaid", "chip": "chip",
                     "children's health insurance": "chip", "medicare": "medicare"}
# The plan whose policy this is: "This policy applies to Jefferson Health Plans Medicaid, CHIP and Medicare product
# lines" (DR.005.D "Product variations"). A Coverage naming another payer is not evaluated as covered under it.
# Sites add the names their EHR uses for this plan with CDS_POLICY_PAYER_NAMES.
POLICY_PAYER = "Jefferson Health Plans"
EXCLUDED_LINE_TEXT = ("individual and family", "individual & family", "aca", "marketplace", "exchange",
                      "qualified health plan", "qhp")


# --- Billing and site of care (billing guide; clinical-facts.md 2.5) ---------------------------------
# CPT/HCPCS codes of the billing card are wording in cards/billing.json (CPT descriptors are AMA text).
SMA_ICD10 = (SMA_TYPE_1, SMA_OTHER_INHERITED, SMA_UNSPECIFIED)
POS_NAMES = {"11": "Office", "12": "Home", "19": "Off Campus-Outpatient Hospital", "21": "Inpatient Hospital",
             "22": "On Campus-Outpatient Hospital", "49": "Independent Clinic"}
POS_ACCEPTED = ("21", "22", "19")  # billing guide "Site of care"
POS_NOT_ACCEPTED = ("11", "49", "12")  # payer site-of-care policy, not a label rule (clinical-facts 1.8j)
# Encounter.status values (FHIR R4 encounter-status) of an encounter that is not where anything happens.
ENCOUNTER_NOT_HAPPENING = frozenset({"cancelled", "entered-in-error"})


# A laboratory order (ServiceRequest): how the lab-order monitoring service recognises one.
# - category: SNOMED CT 108252007 "Laboratory procedure" (US Core ServiceRequest category) or the
#   observation-category code `laboratory` some EHRs reuse;
# - code: any LOINC code (LOINC orderables are lab tests here), or CPT 80047-89398, the CPT "Pathology and
#   Laboratory" section (imaging such as 70450 CT head is in 70010-79999, Radiology).
LAB_ORDER_CATEGORIES = {(SNOMED, "108252007"), ("http://terminology.hl7.org/CodeSystem/observation-category",
                                                 "laboratory")}
CPT_LAB_RANGE = (80047, 89398)
