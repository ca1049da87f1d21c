"""The allowed-actions table the validators, the query and the API's 409 body share."""

from domain.allowed import allowed_in as allowed_actions
from domain.case import Action, CaseStatus


def test_a_dispatched_case_can_be_accepted_returned_reassigned_rejected_or_chased() -> None:
    assert set(allowed_actions(CaseStatus.dispatched, contacted=False)) == {
        Action.accept,
        Action.return_,
        Action.reassign,
        Action.reject,
        Action.urge,
        Action.escalate,
        Action.open_linkage,
        Action.merge,
        Action.split_,
        Action.add_info,
        Action.chase,
    }


def test_the_unit_contacts_the_resident_before_it_replies() -> None:
    assert Action.reply not in allowed_actions(CaseStatus.in_progress, contacted=False)
    assert Action.contact in allowed_actions(CaseStatus.in_progress, contacted=False)
    after = allowed_actions(CaseStatus.in_progress, contacted=True)
    assert Action.reply in after and Action.contact not in after


def test_only_the_rating_or_the_return_visit_follows_a_reply_and_nothing_follows_closure() -> None:
    assert allowed_actions(CaseStatus.replied, contacted=True) == [Action.rate, Action.visit]
    assert allowed_actions(CaseStatus.closed, contacted=True) == []


def test_a_suspended_case_only_takes_progress_notes_resume_and_the_residents_voice() -> None:
    assert allowed_actions(CaseStatus.in_progress, contacted=True, suspended=True) == [
        Action.progress,
        Action.resume,
        Action.add_info,
        Action.chase,
    ]


def test_an_extension_request_waits_for_a_decision_before_another() -> None:
    idle = allowed_actions(CaseStatus.in_progress, contacted=True)
    assert Action.request_extension in idle
    assert Action.approve_extension not in idle
    waiting = allowed_actions(CaseStatus.in_progress, contacted=True, extension_requested=True)
    assert {Action.approve_extension, Action.deny_extension} <= set(waiting)
    assert Action.request_extension not in waiting


def test_while_agencies_work_the_lead_unit_cannot_reply_yet() -> None:
    linked = allowed_actions(CaseStatus.in_progress, contacted=True, linkage_open=True)
    assert Action.reply not in linked and Action.open_linkage not in linked
    assert Action.reply in allowed_actions(CaseStatus.in_progress, contacted=True)
