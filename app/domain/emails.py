"""Which mailbox an address reaches, and whether it is a throwaway one.

"One signature per person" rests on one account per mailbox, so accounts are unique on the
mailbox an address delivers to, not on the address as typed: "Ann.Example+petitions@Gmail.com"
and "annexample@gmail.com" are one mailbox.
"""
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

# Providers that ignore dots in the local part (Google's consumer mail, under both names).
DOTS_IGNORED = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
# Subaddress separators: "+" is the common one; Yahoo uses "-" for its disposable addresses.
SUBADDRESS_SEPARATORS = {"yahoo.com": "-"}


def normalise_address(email):
    """The address as it is stored and written to: trimmed, lower case."""
    return (email or "").strip().lower()


def mailbox_of(email):
    """The mailbox an address delivers to: lower case, without a "+tag" subaddress, and for
    Gmail without dots. Stripping "+tag" everywhere errs towards one account per person: the
    few servers that treat "+" as a plain character would see two people share one identity."""
    local, _, domain = normalise_address(email).rpartition("@")
    if not local or not domain:
        return normalise_address(email)
    local = local.split(SUBADDRESS_SEPARATORS.get(domain, "+"), 1)[0]
    if domain in DOTS_IGNORED:
        local, domain = local.replace(".", ""), DOTS_IGNORED[domain]
    return f"{local}@{domain}"


def domain_of(email):
    return normalise_address(email).rpartition("@")[2]


def is_disposable(email):
    """True for an address at a throwaway-mail domain, or any subdomain of one (the list is the
    disposable-email-domains project's, pinned in requirements.txt)."""
    labels = domain_of(email).split(".")
    return any(".".join(labels[i:]) in DISPOSABLE_DOMAINS for i in range(len(labels) - 1))
