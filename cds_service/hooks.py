"""The hook handlers. Each reads as three steps: gather data, evaluate rules, build cards."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from .cards import CardBuilder, cards_for, worst_first
from .coverage_cards import CoverageCards
from .crd import (
    add_questionnaire,
    card_label,
    card_topic,
    coverage_information,
    documentation_needed,
    read_configuration,
    requested_version,
)
from .data_access import SOURCES, Gathered, effective_request, gather
from .errors import BadRequest, NotFound, Unprocessable
from .facts import DataIssue, PatientFacts
from .follow_ups import lab_follow_ups, settled
from .hook_requests import (
    candidate_orders,
    draft_resources,
    first_zolgensma,
    medications_by_reference,
    parse_request,
    stamped_with_another_hook,
)
from .monitoring_cards import MonitoringCards
from .orders import OrderSuggester, sign_orders
from .packet import Packet, PacketMaker
from .packet.links import PacketLinks
from .queries import eligibility_plan, monitoring_steps, readiness_plan, windows
from .readiness_cards import ReadinessCards
from .references import References
from .rules.billing import billing_guidance
from .rules.eligibility import evaluate
from .rules.findings import NOT_ELIGIBLE, NOT_MET, Evaluation
from .rules.milestones import evaluate_milestones
from .rules.monitoring import evaluate_monitoring, may_concern_by_age, nothing_to_monitor, why_no_day_zero
from .rules.readiness import assess, concerns, under_two
from .searches import Then
from .services import (
    MONITORING,
    MONITORING_LAB_ORDERS,
    ORDER_SELECT,
    ORDER_SIGN,
    READINESS,
    SERVICES,
    ServiceDefinition,
)
from .translate import LocalCodes, Translator, medication_index, unresolved_medication_ids
from .translate.clinical import is_lab_order
from .translate.records import zolgensma_orders
from .wording import Wording


class Services:
    """Routes a call to its service's handler after checking the request envelope."""

    def __init__(self, config: dict, today: Callable[[], date], new_id: Callable[[], str], store=None):
        wording = Wording.load(config["CARDS_DIR"])
        self.eligibility = EligibilityHandler(config, today, new_id, wording)
        self.monitoring = MonitoringHandler(config, today, new_id, wording)
        now = config.get("NOW") or (lambda: datetime.now(UTC))
        self.packets = PacketMaker(wording, config["CARDS_DIR"], new_id, today, now)
        self.eligibility.packet_links = PacketLinks(self.packets, store, config["PACKET_TTL_MINUTES"])
        self.readiness = ReadinessHandler(config, today, new_id, wording)
        self.references = References.load(config["CARDS_DIR"])

    def __call__(self, service_id: str, body, fhir_servers: frozenset[str] | None = None,
                 base_url: Callable[[], str] | str = "") -> dict:
        """`fhir_servers`: the FHIR servers the calling client may name (production), None in open mode;
        `base_url`: this service's URL as the client called it (for card links), or a function giving it (worked
        out only when a card links to a packet)."""
        service = SERVICES.get(service_id)
        if service is None:
            raise NotFound("no CDS service with this id")
        if service.crd:
            # CRD 2.0.1 hooks.md: 400 only for a body that is not JSON; valid JSON that breaks CDS Hooks is 422.
            requested_version(body)
            try:
                context = parse_request(service, body)
            except BadRequest as err:
                raise Unprocessable(err.message) from None
        else:  # the monitoring and readiness services are plain CDS Hooks, which names no code: 400, as is usual
            if stamped_with_another_hook(service, body):
                return {"cards": []}  # the sandbox's patient-view call under its current hook (hook_requests.py)
            context = parse_request(service, body)
        if service.id in (MONITORING, MONITORING_LAB_ORDERS):
            response = self.monitoring(service, context, effective_request(body, fhir_servers))
        elif service.id == READINESS:
            response = self.readiness(service, context, effective_request(body, fhir_servers))
        else:
            response = self.eligibility(service, context, effective_request(body, fhir_servers), base_url)
        return self.references.add_links(response)  # every service's cards link the sources they cite

    def packet(self, body, fhir_servers: frozenset[str] | None = None) -> Packet:
        """The prior-authorization packet for an order-sign or order-select request (same body as the hooks,
        same rules for the FHIR server it may name)."""
        hook = body.get("hook") if isinstance(body, dict) else None
        service = SERVICES[ORDER_SELECT if hook == "order-select" else ORDER_SIGN]
        context = parse_request(service, body)
        packet = self.eligibility.packet(context, effective_request(body, fhir_servers), self.packets)
        if packet is None:
            raise BadRequest("context.draftOrders holds no Zolgensma MedicationRequest"
                             + (" among the selections" if hook == "order-select" else ""))
        return packet


class _Handler:
    def __init__(self, config: dict, today: Callable[[], date], new_id: Callable[[], str], wording: Wording):
        self.config, self.today, self.new_id, self.wording = config, today, new_id, wording
        self.local_codes = LocalCodes.from_mapping(config["LOCAL_CODES"])
        self.policy_payers = tuple(n for n in config["POLICY_PAYER_NAMES"].split(",") if n.strip())
        # The current time, for refusing future-dated results: injected `NOW`; with an injected `TODAY`
        # alone, by calendar date against it (None); otherwise the clock.
        injected = config.get("NOW")
        self.now = injected or ((lambda: None) if config.get("TODAY") else (lambda: datetime.now(UTC)))

    def translator(self, context: dict, latest_only: bool = True, medications: dict | None = None) -> Translator:
        return Translator(context["patientId"], self.local_codes, self.config["STRICT_VALIDATION"], latest_only,
                          now=self.now(), medications=medications, policy_payers=self.policy_payers,
                          user=context.get("userId"))

    def gather_in_steps(self, context: dict, body: dict, steps, concerns: Callable[[int, PatientFacts], bool],
                        today: date, windows: Callable[[], dict[str, str]] = dict,
                        then: Then | None = None) -> tuple[Gathered, dict] | None:
        """A patient-view service's lean reading: each step of `steps` in turn, within the call's one deadline,
        with the Medications its records name by reference; after each step but the last, `concerns(step number,
        facts so far)` says whether the patient may concern the service. None: it does not (quiet, nothing more
        read). Otherwise everything gathered and the Medications known. `then`: for the last step (searches.Then)."""
        ends = time.monotonic() + self.config["GATHER_DEADLINE_SECONDS"]
        gathered, medications, unread_medications = None, {}, []
        for number, step in enumerate(steps):
            got = gather(body, self.config, step, windows, ends, classify=self.translator(context).classify,
                         then=then if number == len(steps) - 1 else None)
            unread_medications += _medications_named(body, self.config, got, medications)
            gathered = got if gathered is None else _merged(gathered, got)
            if number < len(steps) - 1:
                so_far = self.translator(context, latest_only=False, medications=medications).build(
                    gathered.resources, None, [], [], today, gathered.gaps)
                if not concerns(number, so_far):
                    return None
        gathered.issues.extend(unread_medications)  # reported last, as when everything is read at once
        return gathered, medications


@dataclass
class Assessment:
    facts: PatientFacts
    evaluation: Evaluation
    resources: list[dict]


class EligibilityHandler(_Handler):
    packet_links: PacketLinks | None = None

    def __init__(self, *args):
        super().__init__(*args)
        self.plan = eligibility_plan(self.local_codes.by_code)

    def find_order(self, context: dict, body: dict) -> tuple[dict | None, list[dict], dict]:
        """The Zolgensma order this call is about (or None), the draft orders, and the Medications known."""
        drafts = draft_resources(context)
        candidates = candidate_orders(context, body["hook"], drafts)  # found once: most calls end here
        medications = medication_index(drafts)  # Medications sent with the draft orders
        order = first_zolgensma(candidates, context, medications)
        if order is None and unresolved_medication_ids(candidates, medications):  # named on the server only
            medications_by_reference(body, self.config, candidates, medications)
            order = first_zolgensma(candidates, context, medications)
        return order, drafts, medications

    def assess(self, context: dict, body: dict, order: dict, drafts: list[dict], medications: dict,
               today: date) -> Assessment:
        """Steps 1 and 2, shared with the prior-authorization packet: facts, the rules' evaluation, and the
        resources read (the packet includes those its answers cite)."""
        # 1. Gather data: prefetch, then targeted searches on the FHIR server, bounded by dates computed from
        # the planned infusion date (else today); then the Medications records name by reference.
        def search_windows() -> dict[str, str]:
            planned = self.translator(context).zolgensma_order(order)
            return windows((planned and planned.planned_date) or today, today)

        ends = time.monotonic() + self.config["GATHER_DEADLINE_SECONDS"]
        classify = self.translator(context).classify
        # What the labs' answer calls for (server route): a report on the SMN1 results' day, an undated titer;
        # started as soon as the labs are in, beside the other sources still on their way (follow_ups.py).
        gathered = settled(gather(body, self.config, self.plan, search_windows, ends, classify=classify,
                                  then=lab_follow_ups(classify)))
        _read_medications(body, self.config, gathered, medications)
        facts = self.translator(context, medications=medications).build(
            gathered.resources, order, drafts, gathered.issues, today, gathered.gaps)
        read = [r for resources in gathered.resources.values() for r in resources or ()]
        # 2. Evaluate the rules (pure).
        return Assessment(facts, evaluate(facts, today), [order, *drafts, *read])

    def packet(self, context: dict, body: dict, maker: PacketMaker) -> Packet | None:
        """The prior-authorization packet, or None when there is no Zolgensma order to review."""
        order, drafts, medications = self.find_order(context, body)
        if order is None:
            return None
        a = self.assess(context, body, order, drafts, medications, self.today())
        return maker.make(a.facts, a.evaluation, a.resources, _fhir_base(body))

    def __call__(self, service: ServiceDefinition, context: dict, body: dict,
                 base_url: Callable[[], str] | str = "") -> dict:
        hook = body["hook"]
        order, drafts, medications = self.find_order(context, body)
        if order is None:
            return {"cards": []}

        # 1. Gather data (prefetch, then the FHIR server); 2. evaluate the rules (pure).
        today = self.today()
        assessment = self.assess(context, body, order, drafts, medications, today)
        facts, evaluation = assessment.facts, assessment.evaluation
        guidance = billing_guidance(evaluation, facts)
        # 3. Build cards, suggested orders and the CRD coverage information, as configured.
        settings = read_configuration(body)
        builder = CardBuilder(self.wording, self.new_id, card_label(facts, self.wording.data["service"]["label"]),
                              legacy_alias=self.config["LEGACY_OUTCOME_ALIAS"])
        suggester = OrderSuggester(self.wording.orders, evaluation, facts, self.new_id, assessment.resources)
        coverage_cards = CoverageCards(self.wording.billing, builder)
        cards = cards_for(evaluation, facts, builder, suggester.for_finding, suggester.extension(),
                          suggester.pending_notes,
                          several_orders=sum(r.get("resourceType") != "Medication" for r in drafts) > 1,
                          checks=suggester.label_baseline_problems() + coverage_cards.site_problems(guidance))
        # No billing card when Zolgensma is excluded on clinical grounds (alternatives card instead) or the plan
        # does not cover it (the first card says so; billing J3399 to that plan would only be denied).
        no_billing = builder.outcome_key(evaluation) in (NOT_ELIGIBLE, "not-covered") or any(
            f.criterion == "benefit-covered" and f.status == NOT_MET for f in evaluation.findings)
        cards += [c for c in [suggester.monitoring_card(builder)] if c] + coverage_cards.all(guidance, no_billing)
        cards = sign_orders(cards, context["userId"], today)
        needs_documentation = documentation_needed(evaluation, hook)
        if needs_documentation and settings["coverage-info"] and self.packet_links:
            # The pre-filled packet, linked from the summary card (the coverage-info card).
            link = self.packet_links.link(facts, evaluation, assessment.resources, _fhir_base(body),
                                          base_url() if callable(base_url) else base_url)
            if link:
                cards[0]["links"] = [link]
        response = {"cards": worst_first([c for c in cards if settings.get(card_topic(c), True)])}
        if settings["coverage-info"]:
            action = coverage_information(evaluation, facts, order, hook, today, self.new_id,
                                          coverage_cards.coverage_reasons)
            if action:
                if needs_documentation and self.packet_links:
                    add_questionnaire(action, self.packet_links.maker.canonical)
                response["systemActions"] = [action]
        return response


class MonitoringHandler(_Handler):
    steps = monitoring_steps()

    def __call__(self, service: ServiceDefinition, context: dict, body: dict) -> dict:
        if body["hook"] == "order-select" and not _selects_lab_orders(context):
            return {"cards": []}  # not a lab order: nothing read, not even the prefetch
        # 1. Gather data in three steps (queries.monitoring_steps): the Patient; for anyone but an adult, the
        # sources day 0 is found in (with the Medications they name by reference); only when a dose is on record,
        # or might be (a source not read completely, a record unreadable), the rest: the whole lab history
        # (trends against baseline need it), conditions and assessments.
        today = self.today()
        read = self.gather_in_steps(context, body, self.steps, lambda step, facts: may_concern_by_age(
            facts, today) if step == 0 else not nothing_to_monitor(facts), today)
        if read is None:
            return {"cards": []}
        gathered, medications = read
        facts = self.translator(context, latest_only=False, medications=medications).build(
            gathered.resources, None, [], gathered.issues, today, gathered.gaps)
        # 2. Evaluate (pure). No Zolgensma administration on record: nothing to say, unless one may be on
        # record but its date could not be read: then a card says why there is no schedule.
        evaluation = evaluate_monitoring(facts, today)
        builder = CardBuilder(self.wording, self.new_id, self.wording.monitoring["label"])
        if evaluation is None:
            why = why_no_day_zero(facts)
            return {"cards": [builder.no_schedule_card(facts, why)] if why else []}
        # 3. Cards.
        milestones = evaluate_milestones(facts, evaluation.infusion, today)
        cards = MonitoringCards(self.wording.monitoring, self.wording.orders, builder,
                                facts.patient_reference).all(evaluation, milestones)
        issues = builder.data_issues_card(facts)
        return {"cards": worst_first(sign_orders(cards, context["userId"], today) + ([issues] if issues else []))}


def _read_medications(body: dict, config: dict, gathered, medications: dict) -> None:
    """Medications the gathered records name by reference: those sent along, then the rest from the server."""
    gathered.issues.extend(_medications_named(body, config, gathered, medications))


def _medications_named(body: dict, config: dict, gathered, medications: dict) -> list[DataIssue]:
    """`medications` updated with those the gathered records name (sent along, else read from the server);
    returns what could not be read."""
    record = [r for resources in gathered.resources.values() for r in resources or ()]
    medications.update(medication_index(record))
    return medications_by_reference(body, config, record, medications)


class ReadinessHandler(_Handler):
    def __init__(self, *args):
        super().__init__(*args)
        # Three steps (queries.readiness_plan): the Patient; for a child under 2, conditions and SMN1 results;
        # only for a child with SMA evidence, everything else (a patient-view service runs on every chart open).
        self.steps = readiness_plan(self.local_codes.by_code)

    def __call__(self, service: ServiceDefinition, context: dict, body: dict) -> dict:
        # 1. Gather data, step by step, within the call's one deadline; a Zolgensma order already on record
        # (drafted, active or on hold) gives the target date. The Medications records name by reference are
        # read as the order-time services read them.
        today = self.today()
        # As at order time, the last step's labs call for a report on the SMN1 results' day, a titer with no usable
        # date (follow_ups.py).
        read = self.gather_in_steps(context, body, self.steps, lambda step, facts: under_two(
            facts, today) if step == 0 else concerns(facts, today), today, lambda: windows(today, today),
            lab_follow_ups(self.translator(context).classify))
        if read is None:
            return {"cards": []}  # quiet for children the plan does not concern, nothing more read
        gathered, medications = settled(read[0]), read[1]
        # A Zolgensma order on record that is not yet given (draft, active, on hold): its date is the target.
        order = next(iter(zolgensma_orders(gathered.resources.get("medication-requests") or [], medications)), None)
        facts = self.translator(context, latest_only=False, medications=medications).build(
            gathered.resources, order, [], gathered.issues, today, gathered.gaps)
        # 2. Evaluate (pure): quiet for children the plan does not concern (a prior dose found now).
        readiness = assess(facts, today)
        if readiness is None:
            return {"cards": []}
        # 3. One card (plus the data-issues card when something could not be read).
        builder = CardBuilder(self.wording, self.new_id)
        cards = [ReadinessCards(self.wording, builder, facts, self.new_id).card(readiness)]
        issues = builder.data_issues_card(facts)
        return {"cards": sign_orders(cards, context["userId"], today) + ([issues] if issues else [])}


def _merged(before: Gathered, after: Gathered) -> Gathered:
    """A later gathering step's answer over an earlier one's: a source read again (the SMN1 search of step 2 is
    part of step 3's complete lab read) keeps only the later answer, its issues and its gaps."""
    again = set(after.resources)
    keys = {f"prefetch.{s.key}" for s in SOURCES if s.name in again}
    issues = [i for i in before.issues if i.source not in again and i.source not in keys] + after.issues
    gaps = {name: g for name, g in before.gaps.items() if name not in again} | after.gaps
    return Gathered({**before.resources, **after.resources}, issues, gaps)




def _fhir_base(body: dict) -> str | None:
    return body.get("fhirServer") if isinstance(body.get("fhirServer"), str) else None


def _selects_lab_orders(context: dict) -> bool:
    selected = set(context.get("selections") or [])
    return any(is_lab_order(r) and f"ServiceRequest/{r.get('id')}" in selected for r in draft_resources(context))
