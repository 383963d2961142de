"""Schemathesis hooks for scripts/fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

`positive_data_acceptance_stated` is schemathesis's positive_data_acceptance
check with one difference: a schema-valid request may be refused with 422
when every problem the server lists is one of the rules below, which no
JSON Schema can state because they depend on stored data, on another field
or on a platform setting. Each is named by (field, code), exactly as the
problem+json body names it, so any other refusal still fails the run.
"""

import re

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

STATED_RULES = [
    # Text never holds the NUL character (PostgreSQL cannot store it); no
    # JSON Schema string excludes it short of a pattern on every string.
    (r".*", r"nul"),
    # A run's (or a schedule's, or a backfill's) parameters are checked
    # against the declarations of the process version it runs.
    (r"params(\..*)?", r".*"),
    # A process graph: nodes name components of the catalog and carry the
    # parameters those declare, edges join nodes that exist without a
    # cycle, declared parameters are unique with defaults of their type,
    # a connection named is one the tenant has.
    (r"(nodes|edges)([\[.].*)?", r".*"),
    (r"params\[\d+\]\..*", r".*"),
    (r"connection", r"not_found"),
    # An imported definition's name is not taken by another process of the
    # tenant (listed with its other problems, hence 422 rather than 409),
    # its graph has only a graph's fields and names a connection the tenant
    # has.
    (r"name", r"taken"),
    (r"graph\..*", r"unknown_field|not_found"),
    # A copy goes into a tenant the caller edits, and names a connection of
    # it when the process runs on one.
    (r"tenant", r"not_found"),
    (r"connection", r"required"),
    # A version number names a version the process has.
    (r"version", r"not_found"),
    # A retry starts from a node of the run's own version.
    (r"from_node", r"not_found"),
    # A backfill range ends after it starts, as does a runs list's time
    # range (two fields each).
    (r"end|to", r"order"),
    # A backfill range holds at least one fire of its cron expression, and
    # at most 1,000.
    (r"end", r"no_runs|too_many_runs"),
    # A backfill without a cron expression takes the process's schedule's.
    (r"cron", r"no_schedule"),
    # A cron expression of the documented grammar that matches no date
    # (`0 0 30 2 *`): the calendar, not the grammar.
    (r"cron", r"never"),
    # A component's parameters: unique names, min not above max, a default
    # that fits its own constraints, a pattern this server's regular
    # expressions read; templates name parameters the component declares.
    # (Their `params[i].…` fields are covered by the graph's rule above.)
    (r"(local|emr)\.args", r"unknown_param"),
    # The body's component key is the path's.
    (r"key", r"mismatch"),
    # An administrator cannot disable their own account (who is asking).
    (r"disabled", r"own_account"),
    # Static AWS keys: only where TRELLIS_ALLOW_STATIC_AWS_KEYS allows them.
    (r"access_key_id|secret_access_key", r"not_allowed"),
    # An endpoint whose address the outbound guard refuses (by its
    # resolved address, under TRELLIS_OUTBOUND_ALLOW).
    (r"endpoint_url", r"refused"),
    # An alert channel's target is a URL or email addresses by its kind
    # (and a URL the outbound guard allows); email needs the platform's
    # SMTP server.
    (r"target", r"pattern|refused|too_many"),
    (r"kind", r"not_configured"),
    # An alert rule's threshold is required, and its range set, by its
    # trigger; its process and channel are ones the tenant has.
    (r"threshold", r"range|not_allowed"),
    (r"channel|process", r"not_found"),
    # A path in the tenant's data folder stays inside it: relative, no
    # `..`, no symbolic link out, a file name a file system can hold, not
    # a folder (on disk, not in the text alone).
    (r"path", r"invalid"),
]


def stated(response) -> bool:
    try:
        errors = response.json().get("errors") or []
    except Exception:
        return False
    # Problems of a graph node belong to the node (stored components).
    return bool(errors) and all(
        e.get("node") is not None
        or any(
            re.fullmatch(field, e.get("field", ""), re.S) and re.fullmatch(code, e.get("code", ""), re.S)
            for field, code in STATED_RULES
        )
        for e in errors
    )


@schemathesis.check
def positive_data_acceptance_stated(ctx, response, case):
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 422 and stated(response):
            return None
        raise
