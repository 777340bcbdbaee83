"""Outgoing mail: through an SMTP server (SMTP_URL), or as files in a folder (MAIL_DIR) that
`make run` lists at /dev/mail, so a new user can finish every journey with no mail server."""
import contextlib
import os
import smtplib
import tempfile
import time
import uuid
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

# What a failed send raises: the server refused, or could not be reached in time.
SEND_ERRORS = (smtplib.SMTPException, OSError)


def compose(sender, to, subject, body, headers=None):
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


class SmtpMailer:
    """Sends plain-text mail through the server in SMTP_URL: smtp://user:pass@host:587 (STARTTLS
    when the server offers it) or smtps://user:pass@host:465."""

    def __init__(self, url, sender, timeout=10):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port")
        self.parts = parts
        self.sender = sender
        self.timeout = timeout

    def send(self, to, subject, body, headers=None):
        with self.batch() as send:
            send(to, subject, body, headers)

    @contextlib.contextmanager
    def batch(self):
        """One connection for many messages (the mail job's batches): yields send(to, subject,
        body, headers=None)."""
        parts = self.parts
        if parts.scheme == "smtps":
            connection = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=self.timeout)
        else:
            connection = smtplib.SMTP(parts.hostname, parts.port or 25, timeout=self.timeout)
        with connection as smtp:
            if parts.scheme == "smtp" and smtp.has_extn("starttls"):
                smtp.starttls()
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))

            def send(to, subject, body, headers=None):
                smtp.send_message(compose(self.sender, to, subject, body, headers))

            yield send


class MailDirMailer:
    """Writes each message to `directory` as an .eml file: written under a temporary name and
    renamed, so a reader never sees half a message."""

    def __init__(self, directory, sender):
        self.directory = directory
        self.sender = sender

    def send(self, to, subject, body, headers=None):
        os.makedirs(self.directory, exist_ok=True)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        fd, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as file:
            file.write(bytes(compose(self.sender, to, subject, body, headers)))
        os.replace(temporary, os.path.join(self.directory, name))
        return name

    @contextlib.contextmanager
    def batch(self):
        yield self.send


def make_mailer(settings):
    """The mailer the settings name (SMTP_URL first, then MAIL_DIR), or None."""
    if settings.get("SMTP_URL"):
        return SmtpMailer(settings["SMTP_URL"], settings["MAIL_SENDER"])
    if settings.get("MAIL_DIR"):
        return MailDirMailer(settings["MAIL_DIR"], settings["MAIL_SENDER"])
    return None


class StoredMessage(NamedTuple):
    name: str
    to: str
    subject: str
    date: str
    body: str


def read_mail_dir(directory):
    """The messages MailDirMailer wrote, newest first."""
    try:
        names = sorted((n for n in os.listdir(directory) if n.endswith(".eml")), reverse=True)
    except FileNotFoundError:
        return []
    return [read_message(directory, name) for name in names]


def read_message(directory, name):
    """One stored message by file name; FileNotFoundError for a name that is not one."""
    if os.path.basename(name) != name or not name.endswith(".eml"):
        raise FileNotFoundError(name)
    with open(os.path.join(directory, name), "rb") as file:
        message = BytesParser(policy=policy.default).parse(file)
    body = message.get_body(preferencelist=("plain",))
    return StoredMessage(name, str(message["To"]), str(message["Subject"]), str(message["Date"]),
                         body.get_content() if body is not None else "")
