"""Names of this service's own CDS Hooks card extensions.

CDS Hooks 2.0.1 (Extensions): extension names SHOULD ensure global uniqueness, "such as reverse-domain-name
notation". The domain is the one our override-reason code system already uses (cards/criteria.json,
`https://zolgensma-cds.example.org/...`); a deployment that owns another domain changes this prefix, in this
one place, before integrators depend on it.
"""

PREFIX = "org.example.zolgensma-cds."
ELIGIBILITY = PREFIX + "eligibility"  # summary card: the machine-readable outcome
# DEPRECATED: the outcome's name before issue 15, published beside ELIGIBILITY (same object) for integrators
# built against it (the CDS Hooks sandbox e2e driver among them) until CDS_LEGACY_OUTCOME_ALIAS=false.
LEGACY_ELIGIBILITY = "zolgensma-eligibility"
CRITERION = PREFIX + "criterion"  # each criterion card: id, status, reasonCode
MONITORING = PREFIX + "monitoring"  # first monitoring card: schedule, alerts
NOTE = PREFIX + "note"  # an evaluation note card (e.g. planned date before today): code, plannedDate
READINESS = PREFIX + "readiness"  # readiness plan card (patient-view, before any order): gates and dates
MILESTONES = PREFIX + "milestones"  # outcomes milestone card (monitoring service): visits and their status
