"""Outgoing mail: by SMTP when ``smtp.host`` is set, otherwise as ``.eml`` files in the node's outbox folder.

The outbox lets a node run with no mail server at all (a small organisation, a demo, the tests): an operator
forwards the files or opens them in a mail client. Files are written to a temporary name and renamed, so a reader
never sees half a message, and they are created with mode 0600 because an invitation carries a claim link.
SMTP always upgrades with STARTTLS (certificate checked) unless ``smtp.starttls`` is explicitly false, and
never falls back to plain text when the server does not offer it.
"""

from __future__ import annotations

import logging
import os
import secrets
import smtplib
import ssl
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from nodes.clock import Clock
from nodes.settings import NodeSettings

log = logging.getLogger("passerelle.mail")
SMTP_TIMEOUT_SECONDS = 15


class DeliveryError(Exception):
    """The message could not be handed to the mail server or written to the outbox."""


def new_message(settings: NodeSettings, clock: Clock, to_name: str, to_addr: str, subject: str,
                body: str) -> EmailMessage:
    """A plain-text UTF-8 message from the node's sender address.

    The standard policy refuses CR/LF in header values, so a name from a roster cannot inject headers.
    """
    message = EmailMessage()
    message["From"] = formataddr((settings.display_name, settings.smtp.sender))
    message["To"] = formataddr((to_name, to_addr))
    message["Subject"] = subject
    message["Date"] = format_datetime(clock())
    message["Message-ID"] = make_msgid(domain=urlsplit(settings.base_url).hostname or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, charset="utf-8")
    return message


def deliver(settings: NodeSettings, message: EmailMessage) -> str:
    """Send ``message``; returns the channel used (``smtp`` or ``outbox``). Raises :class:`DeliveryError`."""
    if settings.smtp.host:
        _send_smtp(settings, message)
        return "smtp"
    _write_outbox(settings.outbox_dir, message)
    return "outbox"


def _send_smtp(settings: NodeSettings, message: EmailMessage) -> None:
    smtp = settings.smtp
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS) as client:
            client.ehlo()
            if smtp.starttls:
                # Raises SMTPNotSupportedError when the server does not offer STARTTLS: never send in the clear.
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        # The exception text may quote the server's reply but never the message body, so it is safe to log.
        log.warning("SMTP delivery to %s:%s failed: %s", smtp.host, smtp.port, type(exc).__name__)
        raise DeliveryError(f"the mail server {smtp.host}:{smtp.port} refused or failed: {type(exc).__name__}") from exc


def _write_outbox(folder: Path, message: EmailMessage) -> Path:
    """Write ``message`` atomically as ``<folder>/<time>-<random>.eml`` (mode 0600)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = parsedate_to_datetime(str(message["Date"])).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{secrets.token_hex(6)}.eml"
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message.as_bytes())
                handle.flush()
                os.fsync(handle.fileno())
            target = folder / name
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("could not write to the outbox %s: %s", folder, type(exc).__name__)
        raise DeliveryError(f"could not write to the outbox {folder}: {type(exc).__name__}") from exc
    return target
