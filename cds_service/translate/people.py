"""Coverage, people and place: the product line, the prescriber's specialty, the site of care."""

from __future__ import annotations

import re

from .. import terminology as t
from ..facts import CoverageFact, DataIssue, Evidence, SiteOfCare, SpecialistFact
from .common import _NONE, _all_text, _code_keys, _codings, _concept_text, _ref, read_period


class CoverageReader:
    # Coverage, people, place -------------------------------------------------------------------
    def _coverage(self, resource: dict) -> None:
        cov = self._valid(resource, "coverage")
        if cov is None:
            return
        classes = cov.get("class") or []
        texts = [_all_text(cov.get("type"))] + [f"{c['value']} {c.get('name') or ''}".lower() for c in classes]
        texts += [(p.get("display") or "").lower() for p in cov["payor"]]
        line = _product_line(" ".join(texts), _code_keys(cov.get("type")))
        description = "; ".join(x for x in [_concept_text(cov.get("type"))] + [
            _labelled(_concept_text(c["type"]), c.get("name") or c["value"]) for c in classes] if x)
        insurer = next((p["display"].strip() for p in cov["payor"] if (p.get("display") or "").strip()), None)
        ours, conflict = _policy_payer(cov["payor"], self.policy_payers, self._payor_names(resource))
        self.facts.coverages.append(CoverageFact(
            _ref(cov), line, description or "Coverage", cov["status"] == "active", insurer, ours,
            read_period(cov.get("period")), cov.get("order"), conflict,
            self_pay=not insurer and any(_reference_type(p.get("reference")) in _SELF_PAY for p in cov["payor"])))

    def _payor_names(self, coverage: dict) -> dict[str, str]:
        """The names of the Organizations a Coverage's payor may refer to: those read with the record (the
        coverage search includes them, `_include=Coverage:payor`) and those contained in it ("#id"), as
        given. Read leniently: only a name given as text is taken."""
        names = {ref: org["name"].strip() for ref, org in self._organizations.items() if type(org.get("name")) is str}
        for org in coverage.get("contained") or []:
            if type(org) is dict and org.get("resourceType") == "Organization" and type(org.get("id")) is str \
                    and type(org.get("name")) is str:
                names["#" + org["id"]] = org["name"].strip()
        return names

    def _practitioner_role(self, resource: dict) -> None:
        role = self._valid(resource, "specialist")
        if role is None:
            return
        who = (role.get("practitioner") or _NONE).get("reference") or _ref(role)
        if not self._users_role(role):  # a server ignoring `practitioner=`, or extra roles in a prefetch
            self.facts.issues.append(DataIssue(_ref(role), f"not counted: a role of {who}, not of the ordering "
                                                           f"user {self.user}"))
            return
        if role.get("active") is False:
            self.facts.issues.append(DataIssue(_ref(role), "not counted: the role is marked inactive"))
            return
        found = [(s, self._sma_specialty(s)) for s in role.get("specialty") or []]
        found = sorted((f for f in found if f[1]), key=lambda f: f[1] != "coded")
        if found:
            specialty, how = found[0]
            self.facts.specialists.append(SpecialistFact(_ref(role), f"{who}: {_specialty_text(specialty)}",
                                                         coded=how == "coded", period=read_period(role.get("period"))))
        elif role.get("specialty"):
            shown = "; ".join(_specialty_text(s) for s in role["specialty"])
            self.facts.other_specialties.append(Evidence(_ref(role), f"{who}: {shown} (not an SMA specialty)"))

    def _users_role(self, role: dict) -> bool:
        """Is this the hook user's role: `Practitioner/x` is the role's practitioner, or the user is the role
        itself (`PractitionerRole/y`)? Without a user (a caller that names none), every role is taken."""
        if self.user is None:
            return True
        kind, _, uid = self.user.partition("/")
        if kind == "PractitionerRole":
            return role.get("id") == uid
        named = (role.get("practitioner") or _NONE).get("reference") or ""
        match = _PRACTITIONER_REFERENCE.search(named.strip())
        return kind == "Practitioner" and match is not None and match.group(1) == uid

    def _care_team(self, resource: dict) -> None:
        team = self._valid(resource, "specialist")
        if team is None or team.get("status") not in (None, "active", "proposed"):
            return
        found = []
        for part in team.get("participant") or []:
            for role in part.get("role") or []:
                how = self._sma_specialty(role)
                if how:
                    member = (part.get("member") or _NONE).get("reference") or "member"
                    found.append((how != "coded", f"care team {member}: {_specialty_text(role)}", how))
        if found:
            _, text, how = min(found)
            self.facts.specialists.append(SpecialistFact(_ref(team), text, coded=how == "coded"))

    def _sma_specialty(self, concept) -> str | None:
        """'coded' (a supported NUCC/SNOMED CT code or a site code configured as an SMA specialty), 'text'
        (no code from a known system, and the text names neurology but not psychiatry), or None."""
        keys = _code_keys(concept)
        if keys & t.SMA_SPECIALTIES or any(self._codes.get(k) == t.LOCAL_SPECIALTY_KIND for k in keys):
            return "coded"
        if any(system in t.SPECIALTY_CODE_SYSTEMS for system, _ in keys):
            return None  # coded in a system we know, as something else: its display text does not count
        text = _all_text(concept)
        for prefix in t.NUCC_CLASSIFICATION_TEXT:
            text = text.replace(prefix, " ")
        if any(w in text for w in t.NOT_SMA_SPECIALTY_TEXT):
            return None
        return "text" if any(w in text for w in t.SMA_SPECIALTY_TEXT) else None

    def _encounter(self, resource: dict) -> None:
        enc = self._valid(resource, "site")
        if enc is None:
            return
        self._encounters.append(enc)

    def _location(self, resource: dict) -> None:
        loc = self._valid(resource, "site")
        if loc is not None:
            self._locations[_ref(loc)] = loc

    def _site_of_care(self) -> SiteOfCare | None:
        """Place of service from the encounter's Location.type, else from the Encounter's own codes; when
        neither gives one, `why` says what was missing (the card shows it). Locations whose codes disagree (POS 22
        and POS 11 on one encounter) give no place of service: which one the infusion is at is not known, and
        the list's order must not decide it (review 2026-11-24b N1)."""
        for enc in self._encounters:
            if enc.get("status") in t.ENCOUNTER_NOT_HAPPENING:
                return SiteOfCare(_ref(enc), None, f"encounter {enc['status']}",
                                  f"{_ref(enc)} is {enc['status']}: it is not where the infusion happens")
            whys, sites = [], []
            for part in enc.get("location") or []:
                ref = part["location"].get("reference")
                loc = self._locations.get(ref or "")
                if loc is None:
                    whys.append(f"{ref} (named by {_ref(enc)}) could not be read: not sent with the encounter and "
                                "not readable by reference (see data issues)" if ref else
                                f"{_ref(enc)} names a location without a reference")
                    continue
                pos = _pos_code(loc.get("type") or [])
                if pos:
                    sites.append(SiteOfCare(ref, pos, loc.get("name") or _concept_text((loc.get("type") or [None])[0])
                                            or ref))
                else:
                    whys.append(f"{ref} has no CMS place-of-service code in Location.type")
            if len({site.pos_code for site in sites}) > 1:
                named = "; ".join(f"{site.reference} POS {site.pos_code} ({site.description})" for site in sites)
                return SiteOfCare(_ref(enc), None, "encounter locations disagree",
                                  f"{_ref(enc)} names locations with different places of service: {named}")
            if sites:
                return sites[0]
            pos = _pos_code([enc.get("serviceType"), *(enc.get("type") or [])])
            if pos:
                return SiteOfCare(_ref(enc), pos, _concept_text(enc.get("serviceType")) or "encounter")
            whys.append(f"{_ref(enc)} " + ("names no location and " if not enc.get("location") else "")
                        + "has no place-of-service code of its own")
            return SiteOfCare(_ref(enc), None, "encounter without a place-of-service code", "; ".join(whys))
        if "encounter" in self.facts.sources_read:
            return None  # no encounter in this hook's context (or none found): the card says so
        return SiteOfCare("Encounter", None, "encounter not read", "the encounter could not be read (see data issues)")


# "Practitioner/123", "https://ehr.example.org/fhir/Practitioner/123", ".../Practitioner/123/_history/2"
_PRACTITIONER_REFERENCE = re.compile(r"(?:^|/)Practitioner/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


def _pos_code(concepts) -> str | None:
    for concept in concepts:
        for c in _codings(concept):
            if c.get("system") in t.POS_SYSTEMS and (c.get("code") or "").isdigit():
                return c["code"]
    return None


def _specialty_text(concept) -> str:
    shown = ", ".join(f"{system.rsplit('/', 1)[-1]} {code}" for system, code in sorted(_code_keys(concept)))
    text = _concept_text(concept)
    return f"{text} ({shown})" if shown and text else text or shown


_EXCLUDED_LINE = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in t.EXCLUDED_LINE_TEXT))
_COVERED_LINE = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in t.COVERED_LINE_TEXT))


def _product_line(text: str, codes: frozenset[tuple[str, str]]) -> str | None:
    if _EXCLUDED_LINE.search(text):
        return "aca-individual"
    covered = _COVERED_LINE.search(text)
    if covered:
        return t.COVERED_LINE_TEXT[covered.group(0)]
    for system, code in codes:
        if system == t.SOPT and code[:1] == "1":
            return "medicare"
        if system == t.SOPT and code[:1] == "2":
            return "medicaid"
    return None


def payer_key(name: str) -> str:
    """A payer's name as compared: lower case, letters and digits, single spaces ("Jefferson Health Plans,
    Inc." -> "jefferson health plans inc")."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", name.lower()).split())


_SELF_PAY = ("Patient", "RelatedPerson")


def _reference_type(reference: str | None) -> str:
    """"Organization" of "Organization/x" or "https://ehr.example.org/fhir/Organization/x"; "" otherwise."""
    return (reference or "").rpartition("/")[0].rpartition("/")[2]


def _organization_key(reference: str) -> str:
    """"Organization/x" of a relative or absolute reference (its version dropped), "#x" of a contained one."""
    if reference.startswith("#"):
        return reference
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:])


def _policy_payer(payors: list[dict], names: tuple[str, ...],
                  organizations: dict[str, str]) -> tuple[bool | None, str]:
    """(True when a payor is the policy's plan (`names`, as payer_key): its Organization read and named so, or
    only a display naming it; False when the payors name only others, or the patient or a related person pays
    (self-pay); None when no payor is named or the plan's name is not confirmed, why not).
    A display naming the plan beside a reference to something else is not trusted: the reference says who pays,
    the display is a label anyone may have typed (review 2026-11-24e T7). So it counts only when the referenced
    Organization is read and named as the plan; referring to one that is not read, or is read under another
    name, or to a person, it is a conflict (`unknown`, named on the card)."""
    named, conflicts = False, []
    for payor in payors:
        display = payer_key(payor.get("display") or "")
        says_ours = bool(display) and any(name in display for name in names)
        reference = (payor.get("reference") or "").strip()
        organization = organizations.get(_organization_key(reference)) if reference else None
        if organization and any(name in payer_key(organization) for name in names):
            return True, ""
        if says_ours and not reference:
            return True, ""
        if says_ours:
            shown = f"'{payor.get('display', '').strip()}'"
            conflicts.append(f"the payor named {shown} refers to {reference}, " + (
                f"which is named '{organization}'" if organization else
                "which is not read as that plan (not sent with the Coverage)"
                if _reference_type(reference) == "Organization" or reference.startswith("#") else
                "which is not an insurer"))
        named = named or bool(display) or _reference_type(reference) in _SELF_PAY
    if conflicts:
        return None, "; ".join(conflicts)
    return (False if named else None), ""


def _labelled(label: str, value: str) -> str:
    """"group: Medicaid", or the value alone when the class type has no readable text (no stray ": ")."""
    return f"{label}: {value}" if label else value
