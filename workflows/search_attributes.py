"""The search attributes operators filter cases by in the Temporal UI (README: for operators)."""

from temporalio.common import SearchAttributeKey

CASE_STATUS = SearchAttributeKey.for_keyword("CaseStatus")
CASE_CATEGORY = SearchAttributeKey.for_keyword("CaseCategory")
CASE_COMMUNITY = SearchAttributeKey.for_keyword("CaseCommunity")
CASE_GRID = SearchAttributeKey.for_keyword("CaseGrid")
CASE_UNIT = SearchAttributeKey.for_keyword("CaseUnit")
CASE_SEVERITY = SearchAttributeKey.for_keyword("CaseSeverity")
CASE_CHANNEL = SearchAttributeKey.for_keyword("CaseChannel")
CASE_DUE_AT = SearchAttributeKey.for_datetime("CaseDueAt")
CASE_OVERDUE = SearchAttributeKey.for_bool("CaseOverdue")
CASE_ESCALATION_LEVEL = SearchAttributeKey.for_int("CaseEscalationLevel")
# Returns and reassignments so far (a routing ruling is one): cases that bounce between units.
CASE_HANDOFFS = SearchAttributeKey.for_int("CaseHandoffs")
# open / completed / cancelled while a multi-agency linkage exists (unset before).
CASE_LINKAGE = SearchAttributeKey.for_keyword("CaseLinkage")

ALL = (
    CASE_STATUS,
    CASE_CATEGORY,
    CASE_COMMUNITY,
    CASE_GRID,
    CASE_UNIT,
    CASE_SEVERITY,
    CASE_CHANNEL,
    CASE_DUE_AT,
    CASE_OVERDUE,
    CASE_ESCALATION_LEVEL,
    CASE_LINKAGE,
    CASE_HANDOFFS,
)
