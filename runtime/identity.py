"""Personnummer and samordningsnummer: validation, normal form, and keeping them out of logs.

Validation uses python-stdnum (date and Luhn check digit). A samordningsnummer is a
personnummer whose day has 60 added; stdnum knows only the former, so the day is
moved back before the date check. The normal form is 12 digits, YYYYMMDDNNNC.
A log filter masks anything that looks like either number, as a second layer
behind the rule that code never logs one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from stdnum import luhn
from stdnum.exceptions import ValidationError
from stdnum.se import personnummer

#: 10 or 12 digits with an optional - or + before the last four (a possible identity number).
_LOOKS_LIKE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")


#: No one alive was born before this (issue 14: a personnummer of 1812 created a patient).
EARLIEST_BIRTH = date(1890, 1, 1)


class InvalidPersonalNumber(ValueError):
    """Not a valid personnummer or samordningsnummer; the message is Swedish, for people."""


@dataclass(frozen=True)
class PersonalNumber:
    """A validated identity number in normal form."""

    digits: str  # YYYYMMDDNNNC
    kind: str  # "personnummer" | "samordningsnummer"

    def __str__(self) -> str:
        return f"{self.digits[:8]}-{self.digits[8:]}"

    def masked(self) -> str:
        """Birth date only, for screens that must not show the whole number."""
        return f"{self.digits[:8]}-****"


def parse_personal_number(text: str, today: date | None = None) -> PersonalNumber:
    """Validate a personnummer or samordningsnummer (10 or 12 digits) and return its normal form.

    Raises InvalidPersonalNumber with a Swedish message that says what is wrong: the
    form, a date that does not exist (a samordningsnummer's day is the birth day plus
    60), a birth date before EARLIEST_BIRTH or after `today` (when given), or the check digit.
    """
    raw = (text or "").strip().replace(" ", "")
    if not raw:
        raise InvalidPersonalNumber("Skriv personnumret eller samordningsnumret, till exempel 19121212-1212.")
    match = re.fullmatch(r"(\d{2})?(\d{6})([-+]?)(\d{4})", raw)
    if match is None:
        raise InvalidPersonalNumber("Skriv personnumret med 12 siffror, till exempel 19121212-1212.")
    century, date6, sep, tail = match.groups()
    day = int(date6[4:6])
    kind = "samordningsnummer" if 61 <= day <= 91 else "personnummer"
    birth6 = date6[:4] + f"{day - 60:02d}" if kind == "samordningsnummer" else date6
    try:
        # The date, with a samordningsnummer's day moved back (stdnum knows only personnummer).
        birth = personnummer.get_birth_date(personnummer.compact(f"{century or ''}{birth6}{sep or '-'}{tail}"))
    except ValidationError as exc:
        raise InvalidPersonalNumber(_date_message(kind, century, date6)) from exc
    if birth < EARLIEST_BIRTH:
        raise InvalidPersonalNumber(f"Det här är inte ett giltigt {kind}: födelseåret {birth.year} är för tidigt. "
                                    "Kontrollera århundradet.")
    if today is not None and birth > today:
        raise InvalidPersonalNumber(f"Det här är inte ett giltigt {kind}: födelsedatumet "
                                    f"{birth.isoformat()} har inte inträffat än. Kontrollera århundradet.")
    try:
        luhn.validate(date6 + tail)  # the check digit is computed on the real digits
    except ValidationError as exc:
        raise InvalidPersonalNumber(
            f"Det här är inte ett giltigt {kind}: kontrollsiffran (den sista siffran) stämmer inte. "
            "Kontrollera att alla siffror är rätt skrivna.") from exc
    full = f"{century or birth.year // 100:0>2}{date6}{tail}"
    return PersonalNumber(full, kind)


def _date_message(kind: str, century: str | None, date6: str) -> str:
    shown = f"{century or ''}{date6}"
    if kind == "samordningsnummer":
        return (f"Det här är inte ett giltigt samordningsnummer: datumet i {shown} finns inte. I ett "
                "samordningsnummer är dagen födelsedagen plus 60. Kontrollera år, månad och dag.")
    if 32 <= int(date6[4:6]) <= 60 or int(date6[4:6]) > 91:
        return (f"Det här är inte ett giltigt personnummer: dagen i {shown} finns inte (ett samordningsnummer "
                "har dagen plus 60). Kontrollera år, månad och dag.")
    return f"Det här är inte ett giltigt personnummer: datumet i {shown} finns inte. Kontrollera år, månad och dag."


def redact(text: str) -> str:
    """Replace anything that looks like a personnummer with a placeholder."""
    return _LOOKS_LIKE.sub("[personnummer]", text)


def install_log_redaction() -> None:
    """Mask identity numbers in every log record of the process, whoever logs and whatever handles it.

    Logging is process-wide by nature, so this hooks the process's record factory (once;
    calling again does nothing): a filter on a logger would miss its children's records,
    and a filter on a handler would miss handlers added later.
    """
    current = logging.getLogRecordFactory()
    if getattr(current, "stegvis_redacting", False):
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = current(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        _redact_exception(record)
        return record

    factory.stegvis_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redact_exception(record: logging.LogRecord) -> None:
    """Mask identity numbers in a record's traceback and stack (issue 14: exception text was not masked).

    The traceback is formatted now, masked, and kept as `exc_text`, which formatters print
    instead of formatting `exc_info` again; when anything was masked, `exc_info` is dropped
    so that no handler can format the unmasked exception itself.
    """
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(text)
        record.exc_text = cleaned
        if cleaned != text:
            record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging filter that masks identity numbers in every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, mask it, and drop the arguments."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        _redact_exception(record)
        return True
