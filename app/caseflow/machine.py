"""The case state machine (DESIGN §5): which role may take which action from which state.

Pure Python: no database, no Flask. The service layer asks :func:`plan` for a
:class:`Step` and applies it; the demo history drives the same function, so every case
it writes is one the state machine could produce.

States::

    reported ─accept──────────────► pending_filing ─file─► filed ─dispatch─► dispatched ─start─► processing
       │ └send_verify─► verifying ─verify(confirmed)─┘          ▲                 │  ▲                │
       └reject─► rejected            └verify(not_found)─► rejected│         approve(return)          │
                                                                  └──────────────┘  │           feedback
    pending_filing / filed / … ─void / mark_duplicate─► voided                     │                ▼
    processing ─request_suspend → approve─► suspended ─resume─► processing    check(failed)◄─ handled
    handled ─send_check─► checking ─check(passed)─► pending_close ─close─► closed
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "ACTIONS",
    "OPEN_STATES",
    "REQUEST_KINDS",
    "STAGE_OF_STATE",
    "STATES",
    "TERMINAL_STATES",
    "Step",
    "TransitionError",
    "actions_for",
    "close_type",
    "plan",
]

STATES = (
    "reported", "verifying", "pending_filing", "filed", "dispatched", "processing", "suspended",
    "handled", "checking", "pending_close", "closed", "rejected", "voided",
)
TERMINAL_STATES = frozenset({"closed", "rejected", "voided"})
OPEN_STATES = frozenset(STATES) - TERMINAL_STATES

#: The stage whose time limit runs in each state (terminal states have none).
STAGE_OF_STATE = {
    "reported": "accept",
    "verifying": "verify",
    "pending_filing": "file",
    "filed": "dispatch",
    "dispatched": "handle",
    "processing": "handle",
    "suspended": "handle",
    "handled": "send_check",
    "checking": "check",
    "pending_close": "close",
}

REQUEST_KINDS = ("postpone", "return", "suspend")
_IN_HAND = ("dispatched", "processing")
_BEFORE_DISPATCH = ("reported", "verifying", "pending_filing", "filed")


@dataclass(frozen=True)
class Rule:
    """One action: the states it starts from, the roles allowed, and where it leads."""

    sources: tuple[str, ...]
    roles: tuple[str, ...]
    target: str | None = None  # None: the state does not change
    outcomes: dict[str, str] = field(default_factory=dict)  # outcome -> target
    default_outcome: str | None = None


ACTIONS: dict[str, Rule] = {
    "accept": Rule(("reported",), ("operator",), "pending_filing"),
    "reject": Rule(("reported",), ("operator",), "rejected"),
    "send_verify": Rule(("reported",), ("operator",), "verifying"),
    "verify": Rule(("verifying",), ("inspector",),
                   outcomes={"confirmed": "pending_filing", "not_found": "rejected"}),
    "file": Rule(("pending_filing",), ("shift_leader",), "filed"),
    "void": Rule((*_BEFORE_DISPATCH, "pending_close"), ("shift_leader",), "voided"),
    "mark_duplicate": Rule(_BEFORE_DISPATCH, ("operator", "shift_leader"), "voided"),
    "dispatch": Rule(("filed",), ("dispatcher",), "dispatched"),
    "start": Rule(("dispatched",), ("department",), "processing"),
    "feedback": Rule(_IN_HAND, ("department",), "handled"),
    "request_postpone": Rule(_IN_HAND, ("department",)),
    "request_return": Rule(_IN_HAND, ("department",)),
    "request_suspend": Rule(_IN_HAND, ("department",)),
    "approve": Rule(_IN_HAND, ("dispatcher",)),
    "deny": Rule(_IN_HAND, ("dispatcher",)),
    "resume": Rule(("suspended",), ("dispatcher",), "processing"),
    "send_check": Rule(("handled",), ("operator",), "checking"),
    "check": Rule(("checking",), ("inspector",),
                  outcomes={"passed": "pending_close", "failed": "dispatched"}),
    "close": Rule(("pending_close",), ("shift_leader",), "closed",
                  outcomes={"normal": "closed", "special": "closed"}, default_outcome="normal"),
    "urge": Rule((*_IN_HAND, "suspended"), ("dispatcher",)),
}


class TransitionError(Exception):
    """An action that the caller's role or the case's state does not allow.

    ``reason`` is ``"forbidden"`` (role), ``"invalid_state"`` (state or pending request),
    ``"bad_outcome"`` or ``"unknown_action"``.
    """

    def __init__(self, reason: str, message: str, allowed: tuple[str, ...] = ()):
        super().__init__(message)
        self.reason = reason
        self.allowed = allowed


@dataclass(frozen=True)
class Step:
    """What an action does to a case; the service applies the effects."""

    action: str
    from_state: str
    to_state: str
    outcome: str | None = None
    effects: frozenset[str] = frozenset()

    @property
    def stage(self) -> str | None:
        """The stage whose clock runs after the step."""
        return STAGE_OF_STATE.get(self.to_state)

    @property
    def restarts_clock(self) -> bool:
        """Whether a new stage clock starts (the stage changed or work was sent back)."""
        return bool(self.effects & {"start_stage"})


def plan(
    state: str,
    action: str,
    role: str,
    *,
    outcome: str | None = None,
    pending: str | None = None,
    self_handled: bool = False,
) -> Step:
    """Decide what ``action`` by ``role`` does to a case in ``state``.

    Parameters
    ----------
    state : str
        The case's state.
    action : str
        One of :data:`ACTIONS`.
    role : str
        The caller's role.
    outcome : str, optional
        Required by ``verify`` (confirmed / not_found) and ``check`` (passed / failed);
        ``close`` takes normal (default) or special.
    pending : str, optional
        The kind of the case's pending request (postpone / return / suspend), if any.
    self_handled : bool
        Whether the case was handled on the spot by the inspector who reported it.

    Returns
    -------
    Step

    Raises
    ------
    TransitionError
        Naming what is not allowed and what would be.

    Examples
    --------
    >>> plan("filed", "dispatch", "dispatcher").to_state
    'dispatched'
    >>> plan("checking", "check", "inspector", outcome="failed").effects >= {"count_rework"}
    True
    >>> plan("processing", "approve", "dispatcher", pending="return").to_state
    'filed'
    >>> plan("filed", "dispatch", "operator")
    Traceback (most recent call last):
    ...
    app.caseflow.machine.TransitionError: role 'operator' may not dispatch; allowed: dispatcher
    """
    rule = ACTIONS.get(action)
    if rule is None:
        raise TransitionError("unknown_action", f"unknown action {action!r}", tuple(sorted(ACTIONS)))
    if role not in rule.roles:
        raise TransitionError(
            "forbidden", f"role {role!r} may not {action}; allowed: {', '.join(rule.roles)}", rule.roles
        )
    if state not in rule.sources or (action == "void" and state == "pending_close" and not self_handled):
        possible = actions_for(state, role, pending=pending, self_handled=self_handled)
        raise TransitionError(
            "invalid_state",
            f"cannot {action} a case in state {state!r}"
            + (f"; possible now: {', '.join(possible)}" if possible else ""),
            possible,
        )

    effects: set[str] = set()
    target = rule.target or state
    if rule.outcomes:
        chosen = outcome or rule.default_outcome
        if chosen not in rule.outcomes:
            raise TransitionError(
                "bad_outcome",
                f"{action} needs 'outcome' of {', '.join(rule.outcomes)}",
                tuple(rule.outcomes),
            )
        outcome = chosen
        target = rule.outcomes[chosen]
    elif outcome is not None:
        raise TransitionError("bad_outcome", f"{action} takes no outcome")

    if action.startswith("request_"):
        if pending:
            raise TransitionError(
                "invalid_state", f"a {pending} request is already waiting for the dispatcher"
            )
        effects.add("set_pending")
    elif action in ("approve", "deny"):
        if not pending:
            raise TransitionError("invalid_state", f"there is no request to {action}")
        effects.add("clear_pending")
        if action == "approve":
            if pending == "postpone":
                effects |= {"extend_deadline", "count_postpone"}
            elif pending == "return":
                target = "filed"
                effects |= {"count_return", "clear_department"}
            elif pending == "suspend":
                target = "suspended"
                effects.add("pause_clock")
    elif action == "resume":
        effects.add("resume_clock")
    elif action == "urge":
        effects.add("count_urge")
    elif action == "check" and outcome == "failed":
        effects.add("count_rework")
    elif action == "feedback":
        effects.add("mark_handled")
    elif action == "mark_duplicate":
        effects.add("link_duplicate")
    elif action == "dispatch":
        effects.add("set_department")
    elif action in ("send_verify", "send_check"):
        effects.add("assign_inspector")
    if target in TERMINAL_STATES:
        effects.add("finish")
    # A new stage clock starts whenever the stage changes, and on rework (a new handling
    # round for the same department); suspension keeps the handling clock, paused.
    if target not in TERMINAL_STATES and (
        STAGE_OF_STATE.get(target) != STAGE_OF_STATE.get(state) or "count_rework" in effects
    ) and "pause_clock" not in effects and "resume_clock" not in effects:
        effects.add("start_stage")
    return Step(action, state, target, outcome, frozenset(effects))


def actions_for(
    state: str, role: str, *, pending: str | None = None, self_handled: bool = False
) -> tuple[str, ...]:
    """The actions ``role`` may take on a case in ``state`` (for buttons and error messages).

    Examples
    --------
    >>> actions_for("processing", "department")
    ('feedback', 'request_postpone', 'request_return', 'request_suspend')
    >>> actions_for("processing", "dispatcher", pending="postpone")
    ('approve', 'deny', 'urge')
    """
    found = []
    for name, rule in ACTIONS.items():
        if role not in rule.roles or state not in rule.sources:
            continue
        if name == "void" and state == "pending_close" and not self_handled:
            continue
        if name.startswith("request_") and pending:
            continue
        if name in ("approve", "deny") and not pending:
            continue
        found.append(name)
    return tuple(sorted(found))


def close_type(outcome: str | None, handle_deadline, handled_at) -> str:
    """How a closed case counts: ``special`` when closed so, ``overdue`` when handled after its
    handling deadline, else ``normal``.

    Examples
    --------
    >>> from datetime import datetime
    >>> close_type("special", None, None)
    'special'
    >>> close_type(None, datetime(2026, 1, 5, 12), datetime(2026, 1, 5, 13))
    'overdue'
    >>> close_type(None, datetime(2026, 1, 5, 12), datetime(2026, 1, 5, 11))
    'normal'
    """
    if outcome == "special":
        return "special"
    if handle_deadline and handled_at and handled_at > handle_deadline:
        return "overdue"
    return "normal"
