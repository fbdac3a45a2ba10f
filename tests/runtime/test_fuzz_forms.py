"""Form fuzzing (issue 14): Hypothesis over the HTML form posts of the patient's and the staff's pages.

Each page form gets posted field sets made of its own field names (and strangers), with
no, one or two values each: the words the pages expect ("ja", "aktuell", "synligt", a
date, a number), empty strings, long text, control characters, any Unicode. Whatever is
posted, the answer is a page or a redirect with a status the pages use: never a server
error (the test client raises the app's exceptions, so a 500 fails with its traceback).

The patient posts form answers (submit and draft), page comments, registrations, a new
message and a reply; the staff start an enrolment, customise one (every section), set a
plan's schedule, and write messages. Budget as in test_fuzz_api: few examples, fixed
seed, no deadline, one database for the module (tests/runtime/fuzzing.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzzing import FuzzWorld, make_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
#: What a page answers a post with: done (303), shown again with errors (200, 422), refused (400,
#: 403, 404, 409). A 500 never gets here: the test client raises the exception instead.
PAGE_STATUSES = {200, 303, 400, 403, 404, 409, 422}
#: Values the pages look for, and their neighbours.
WORDS = ("", " ", "ja", "nej", "draft", "skicka", "0", "1", "-1", "80", "101", "1e309", "nan", "2.5", "52", "53",
         "aktuell", "kommande", "synligt", "dolt", "valkomst", "kontakt-ny", "kontakt-bort", "kontakt-upp",
         "kontakt-ned", "innehall", "avisering", "tid", "ork", "2026-02-23", "2026-03-02T18:00:00Z", "2026-02-30",
         "19:00", "25:61", "191212121212", "19121212-1212", "194107086995", "testprogram/0.1.0", "testprogram",
         "testprogram/9.9.9", "anna@example.se", "+46701234567", "https://example.se", "javascript:alert(1)",
         "<script>alert(1)</script>", "../../etc/passwd", "\x00", "\r\n", "x" * 20001)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)  # no lone surrogates: not UTF-8
VALUE = st.one_of(st.sampled_from(WORDS), TEXT)


def fields(names: tuple[str, ...], valid: dict[str, str] | None = None) -> st.SearchStrategy[dict[str, list[str]]]:
    """A posted form: some of `names` (and now and then a stranger), each with 0–2 values.

    With `valid` (a form the page accepts), half of the examples are that form with one or
    two fields changed, so the fuzz also gets past the first refusal into the services.
    """
    name = st.one_of(st.sampled_from(names), st.sampled_from(names), TEXT.filter(lambda s: s != "_csrf"))
    anything = st.dictionaries(name, st.lists(VALUE, max_size=2), max_size=len(names) + 2)
    if valid is None:
        return anything
    base = {k: [v] for k, v in valid.items()}
    nearly = st.dictionaries(name, st.lists(VALUE, max_size=2), max_size=2).map(lambda d: {**base, **d})
    return st.one_of(anything, nearly)


@pytest.fixture(scope="module")
def world(built_packages, sqlite_template, tmp_path_factory) -> Iterator[FuzzWorld]:
    """The module's app: anna (patient A) and tove (her therapist) logged in, a thread each way."""
    w = make_world(built_packages, sqlite_template, tmp_path_factory.mktemp("fuzz-forms"), ("anna", "tove"))
    e = w.people.enrolment_a
    made = w.browsers["anna"].api("POST", f"/api/v1/enrolments/{e}/threads", json={"subject": "Hej", "body": "Fråga"})
    assert made.status_code == 201, made.text
    w.thread = made.json()["id"]
    yield w
    w.close()


def post(world: FuzzWorld, who: str, url: str, data: dict[str, list[str]]) -> None:
    """Post the form as `who`; the answer must be a page or a redirect, never a server error."""
    answer = world.browsers[who].post(url, data)
    assert answer.status_code in PAGE_STATUSES, (url, data, answer.status_code, answer.text[:300])
    if answer.status_code != 303:
        assert answer.headers["content-type"].startswith("text/html"), (url, answer.headers["content-type"])


def eid(world: FuzzWorld, other: bool) -> int:
    """The patient's enrolment, or (other=True) patient B's, which anna may not reach (404)."""
    return world.people.enrolment_b if other else world.people.enrolment_a


# --- the patient -------------------------------------------------------------------------------------

FORM = "/moment/{e}/steg/start/mitt-mal/formular/mal"
ANSWERS = ("_action", "namn", "mal", "roker", "antal", "hinder", "viktigt", "start")


@FUZZ
@given(data=fields(ANSWERS, {"mal": "Gå mer", "roker": "ja", "antal": "5", "hinder": "tid", "viktigt": "3"}),
       other=st.booleans())
def test_patient_form_answers__never_a_server_error(world, data, other):
    post(world, "anna", FORM.format(e=eid(world, other)), data)


@FUZZ
@given(data=fields(("body",)))
def test_patient_page_comment__never_a_server_error(world, data):
    post(world, "anna", FORM.format(e=eid(world, False)) + "/kommentarer", data)


@FUZZ
@given(data=fields(("_occasion", "_comment", "steg", "mal"), {"_occasion": "2026-03-02T18:00:00Z", "steg": "5000"}),
       plan=st.sampled_from(("steg", "stegmal")))
def test_patient_registration__never_a_server_error(world, data, plan):
    pk = world.people.plans_a[plan]
    post(world, "anna", f"/moment/{eid(world, False)}/aktivitetsplaner/{pk}/registreringar", data)


@FUZZ
@given(data=fields(("subject", "body"), {"subject": "Fråga", "body": "Hej!"}), reply=st.booleans())
def test_patient_messages__never_a_server_error(world, data, reply):
    url = f"/moment/{eid(world, False)}/meddelanden" + (f"/{world.thread}" if reply else "")
    post(world, "anna", url, data)


# --- the staff ---------------------------------------------------------------------------------------

START = ("personal_number", "display_name", "email", "phone", "package", "therapist", "duplicate_ok")
CUSTOMISE = ("_section", "welcome_text", "contact-name", "contact-role", "contact-phone", "contact-email",
             "contact-hours", "contact-url", "contact", "modul:start", "modul:fordjupning", "modul:finns-inte",
             "steg:start/mitt-mal", "steg:start/valkommen", "steg:x/y", "patient_email", "patient_phone")
SCHEDULE = ("start_date", "repeat_every_weeks", "registration_window_days", "flag_missed", "allow_comments",
            "activated", *(f"day-{i}" for i in range(7)), *(f"time-{i}" for i in range(7)), "day-7", "time-9")


@FUZZ
@given(data=fields(START, {"personal_number": "194107086995", "display_name": "Ny Patient",
                           "package": "testprogram/0.1.0", "duplicate_ok": "ja"}))
def test_staff_start_enrolment__never_a_server_error(world, data):
    post(world, "tove", "/personal/moment/nytt", data)


@FUZZ
@given(data=fields(CUSTOMISE), section=st.sampled_from(("valkomst", "kontakt-ny", "kontakt-bort", "kontakt-upp",
                                                         "kontakt-ned", "innehall", "avisering", "okand")))
def test_staff_customise__never_a_server_error(world, data, section):
    data.setdefault("_section", [section])
    post(world, "tove", f"/personal/moment/{eid(world, False)}/anpassa", data)


@FUZZ
@given(data=fields(SCHEDULE, {"start_date": "2026-02-23", "repeat_every_weeks": "1", "registration_window_days": "2",
                              "day-0": "ja", "time-0": "19:00", "activated": "ja", "allow_comments": "ja"}),
       plan=st.sampled_from(("steg", "stegmal")))
def test_staff_plan_settings__never_a_server_error(world, data, plan):
    # Dates far out (year 1, year 9999) are issue 14's unbounded dates, fixed on the security branch
    # and pinned in test_fuzz_api; the schedule fuzz keeps them to this century.
    if any(v[:2] not in ("19", "20") and v[:4].isdigit() for v in data.get("start_date", [])[:1]):
        data["start_date"] = ["2026-02-23"]
    post(world, "tove", f"/personal/moment/{eid(world, False)}/aktivitetsplaner/{world.people.plans_a[plan]}"
                        "/installningar", data)


@FUZZ
@given(data=fields(("subject", "body", "notify"), {"subject": "Svar", "body": "Hej Anna!"}), reply=st.booleans())
def test_staff_messages__never_a_server_error(world, data, reply):
    url = f"/personal/moment/{eid(world, False)}/meddelanden" + (f"/{world.thread}" if reply else "")
    post(world, "tove", url, data)
