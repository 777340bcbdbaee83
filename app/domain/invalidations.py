"""Which signatures a moderator removes: one user's, one email domain's, or one IP prefix's,
optionally only those made within a time window."""
from dataclasses import dataclass
from datetime import datetime

from app.domain.errors import InvalidInput
from app.domain.signers import parse_ip_prefix

KINDS = {"user": "An account (its email address)", "domain": "An email domain", "ip_prefix": "An IP prefix"}
REASON_MIN, REASON_MAX = 10, 1000
# A domain as signatures store it: labels of letters, digits and hyphens (IDNs as punycode).
_DOMAIN_LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class InvalidationCriterion:
    kind: str  # one of KINDS
    value: str  # user id (as text), domain, or prefix as stored ("203.0.113.0/24")
    signed_from: datetime | None = None  # inclusive
    signed_to: datetime | None = None  # exclusive

    def describe(self, label=None):
        """For the audit log and the moderator's page; `label` names the user instead of their id."""
        what = {"user": "account", "domain": "email domain", "ip_prefix": "IP prefix"}[self.kind]
        text = f"{what} {label or self.value}"
        if self.signed_from is not None:
            text += f" from {self.signed_from.isoformat(timespec='minutes')}"
        if self.signed_to is not None:
            text += f" until {self.signed_to.isoformat(timespec='minutes')}"
        return text


def normalised_domain(text):
    domain = (text or "").strip().lower().lstrip("@").rstrip(".")
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2 or not all(
        label and len(label) <= 63 and set(label) <= _DOMAIN_LABEL_CHARS for label in labels
    ):
        return None
    return domain


def criterion(kind, value, signed_from=None, signed_to=None, user_id=None):
    """The checked criterion, or InvalidInput with a message per field. For kind "user" the
    caller has looked up the account: `user_id` is its id, or None when there is no such account.
    A prefix must have a time window: a shared network's later signers are not suspects."""
    errors = {}
    if kind not in KINDS:
        errors["kind"] = "Choose what to remove by."
    elif kind == "user":
        value = None if user_id is None else str(user_id)
        if value is None:
            errors["value"] = "No account has that email address."
    elif kind == "domain":
        value = normalised_domain(value)
        if value is None:
            errors["value"] = "Give an email domain, such as example.com."
    else:
        value = parse_ip_prefix(value)
        if value is None:
            errors["value"] = "Give an IPv4 address or /24 block, or an IPv6 address or /48 block."
        if signed_from is None or signed_to is None:
            errors["signed_from"] = "Removing by IP prefix needs both ends of the time window."
    if signed_from is not None and signed_to is not None and signed_from >= signed_to:
        errors["signed_to"] = "The window must end after it starts."
    if errors:
        raise InvalidInput.from_fields(errors)
    return InvalidationCriterion(kind, value, signed_from, signed_to)


def checked_reason(reason):
    reason = " ".join((reason or "").split())
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise InvalidInput.for_field("reason", f"Say why, {REASON_MIN} to {REASON_MAX:,} characters (kept in the audit log).")
    return reason
