"""The former home of the ticket text and the ``mailto:`` link, for callers not moved yet.

Use :mod:`access_checker.request` instead. The one difference: ``mailto_url`` here returns the
link alone, as it used to; :func:`access_checker.request.mailto_url` also says whether it was
shortened.
"""

from __future__ import annotations

from access_checker.policy import Policy
from access_checker.request import outputs
from access_checker.request.model import UpgradeRequest
from access_checker.request.outputs import MAILTO_MAX, SUBJECT, json_filename, summary_text

__all__ = ["MAILTO_MAX", "SUBJECT", "json_filename", "mailto_url", "summary_text"]


def mailto_url(request: UpgradeRequest, policy: Policy) -> str:
    return outputs.mailto_url(request, policy).url
