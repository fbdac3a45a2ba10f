"""Issue #9: the timeline of an enrolment and the plain-text summary for the medical record.

On SQLite and PostgreSQL: every kind of event in time order (newest first, or oldest
with the toggle), filtered with GET parameters, read receipts on messages and
comments; the summary as a page and as text/plain, in Swedish, without personnummer.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from runtime.models import (
    AccessLogEntry,
    AuthorRole,
    Enrolment,
    EnrolmentEvent,
    EnrolmentStatus,
    EventKind,
    Flag,
    FlagKind,
    FormSubmission,
    Message,
    MessageThread,
    NoticeChannel,
    Notification,
    PageComment,
    Registration,
    StepOpening,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # when the enrolments start: Monday 2 March, 10.00 in Stockholm


def db(app):
    return app.state.stegvis.db.session()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def history(app, people) -> dict[str, int]:
    """One of everything in patient A's enrolment, a minute or more apart; returns some ids."""
    e = people.enrolment_a
    with db(app) as s:
        s.add(EnrolmentEvent(enrolment_id=e, at=at(1), actor_id=people.therapist, kind=EventKind.customised,
                             detail="Välkomsttexten ändrades."))
        s.add(StepOpening(enrolment_id=e, module_id="start", step_id="valkommen", first_opened_at=at(2),
                          last_opened_at=at(40), times=3))
        sub = FormSubmission(enrolment_id=e, form_id="mal", module_id="start", step_id="mitt-mal",
                             answers={"mal": "Gå mer", "roker": "nej"}, score=3, score_band="Låg", submitted_at=at(3))
        s.add(sub)
        s.flush()
        s.add(FormSubmission(enrolment_id=e, form_id="mal", module_id="start", step_id="mitt-mal",
                             answers={"mal": "Gå mer", "roker": "ja"}, score=6, score_band="Hög", submitted_at=at(30)))
        patient_comment = PageComment(enrolment_id=e, form_id="mal", author_id=people.patient_a,
                                      author_role=AuthorRole.patient, body="Vad menas med hinder?", created_at=at(4))
        reply = PageComment(enrolment_id=e, form_id="mal", author_id=people.therapist, author_role=AuthorRole.therapist,
                            body="Det som står i vägen.", created_at=at(5), read_at=at(6))
        s.add_all([patient_comment, reply])
        thread = MessageThread(enrolment_id=e, subject="Cykla?", created_by=people.patient_a, created_at=at(7),
                               last_message_at=at(8))
        s.add(thread)
        s.flush()
        question = Message(thread_id=thread.id, sender_id=people.patient_a, sender_role=AuthorRole.patient,
                           body="Får jag cykla i stället?", created_at=at(7), read_at=at(9))
        answer = Message(thread_id=thread.id, sender_id=people.therapist, sender_role=AuthorRole.therapist,
                         body="Ja, det går bra.", notify=True, created_at=at(10))
        s.add_all([question, answer])
        s.add(Registration(plan_id=people.plans_a["steg"], occasion_at=datetime(2026, 2, 25, 18, tzinfo=UTC),
                           values={"steg": 6500}, comment="Skönt", registered_at=at(12)))
        s.add(Registration(plan_id=people.plans_a["stegmal"], occasion_at=datetime(2026, 2, 23, 8, tzinfo=UTC),
                           values={"mal": 8000}, registered_at=at(15)))
        s.flush()
        flag = Flag(enrolment_id=e, kind=FlagKind.message, ref_type="message", ref_id=question.id, detail="Cykla?",
                    created_at=at(8), hidden_at=at(13), hidden_by=people.therapist)
        s.add(flag)
        s.add(Notification(enrolment_id=e, recipient_id=people.patient_a, channel=NoticeChannel.sms,
                           subject="Du har ett nytt meddelande", created_at=at(11), sent_at=at(11)))
        s.add(Notification(enrolment_id=e, recipient_id=people.therapist, channel=NoticeChannel.email,
                           subject="Nytt i Stegvis", created_at=at(14), error="Servern svarade inte"))
        s.flush()
        return {"submission": sub.id, "question": question.id, "answer": answer.id, "comment": patient_comment.id,
                "reply": reply.id, "thread": thread.id, "flag": flag.id}


def events_of(page: str) -> list[str]:
    """The event titles on the page, in order."""
    return re.findall(r'<p class="st-event-title">([^<]+)</p>', page)


def test_timeline__every_kind_newest_first(app, people, login_as):
    ids = history(app, people)
    page = login_as("tove").get(f"/personal/moment/{people.enrolment_a}/tidslinje")
    assert page.status_code == 200
    assert events_of(page.text) == [
        "Patienten skickade in formuläret ”Mitt mål”",
        "Patienten registrerade i ”Mitt stegmål”",
        "Avisering via e-post till Tove Test",
        "Flagga dold: Meddelande",
        "Patienten registrerade i ”Antal steg”",
        "Avisering via sms till patienten",
        "Meddelande från Tove Test: ”Cykla?”",
        "Flagga: Meddelande",
        "Meddelande från patienten: ”Cykla?”",
        "Behandlare Tove Test kommenterade under ”Mitt mål”",
        "Patienten kommenterade under ”Mitt mål”",
        "Patienten skickade in formuläret ”Mitt mål”",
        "Patienten öppnade steget ”Välkommen”",
        "Momentet anpassades",
        "Momentet startades",  # no "started" event was recorded: taken from the enrolment
    ]
    text = page.text
    assert '<time datetime="2026-03-02T09:14:00+00:00">2 mars 2026 kl. 10.14</time> · Aviseringar' in text
    assert "Kunde inte skickas: Servern svarade inte" in text and "Skickad 2 mars 2026 kl. 10.11" in text
    assert f'id="meddelande-{ids["question"]}"' in text and "Får jag cykla i stället?" in text
    assert "Läst av behandlaren 2 mars 2026 kl. 10.09" in text  # the patient's message
    assert "Inte läst av patienten än" in text and "Patienten aviserades" in text  # the therapist's answer
    assert "Läst av patienten 2 mars 2026 kl. 10.06" in text  # the therapist's page comment
    assert "Öppnat 3 gånger, senast 2 mars 2026 kl. 10.40" in text and "Modul: Start" in text
    assert "Poäng 3 (Låg)" in text and "Poäng 6 (Hög)" in text
    assert f'href="/personal/moment/{people.enrolment_a}#svar-{ids["submission"]}"' in text
    assert "Tillfälle onsdag 25 februari 2026 kl. 19.00" in text and "Antal steg: 6\xa0500 steg" in text
    assert "Skönt" in text and "Av Tove Test" in text and "Välkomsttexten ändrades." in text
    assert f'href="/personal/moment/{people.enrolment_a}/meddelanden/{ids["thread"]}"' in text
    assert "Visar 15 av 15 händelser, nyast först." in text


def test_timeline__oldest_first_and_filter_by_kind(app, people, login_as):
    history(app, people)
    tove = login_as("tove")
    url = f"/personal/moment/{people.enrolment_a}/tidslinje"
    oldest = tove.get(url, params={"ordning": "aldst"}).text
    assert events_of(oldest)[:2] == ["Momentet startades", "Momentet anpassades"]
    assert 'id="ordning-aldst" name="ordning" value="aldst" checked' in oldest
    only = tove.get(url, params=[("visa", "meddelanden"), ("visa", "kommentarer")]).text
    assert events_of(only) == ["Meddelande från Tove Test: ”Cykla?”", "Meddelande från patienten: ”Cykla?”",
                               "Behandlare Tove Test kommenterade under ”Mitt mål”",
                               "Patienten kommenterade under ”Mitt mål”"]
    assert 'id="visa-meddelanden" name="visa" value="meddelanden" checked' in only
    assert 'id="visa-steg" name="visa" value="steg">' in only  # not checked
    assert "<label for=\"visa-meddelanden\">Meddelanden (2)</label>" in only
    assert "Visar 4 av 15 händelser" in only


def test_timeline__unknown_filter_and_order_are_harmless(app, people, login_as):
    history(app, people)
    page = login_as("tove").get(f"/personal/moment/{people.enrolment_a}/tidslinje",
                                params=[("visa", "<script>"), ("ordning", "baklanges")])
    assert page.status_code == 200
    assert "Okänd händelsetyp i filtret; den hoppades över." in page.text
    assert "<script>" not in page.text.split("<main", 1)[1]
    assert "Visar 15 av 15 händelser, nyast först." in page.text


def test_timeline__lifecycle_events_instead_of_the_start_fallback(app, people, login_as):
    with db(app) as s:
        s.add(EnrolmentEvent(enrolment_id=people.enrolment_b, at=at(0), actor_id=people.citizen_admin,
                             kind=EventKind.started, detail="Startat i Testprogrammet 0.1.0."))
        s.add(EnrolmentEvent(enrolment_id=people.enrolment_b, at=at(5), actor_id=people.citizen_admin,
                             kind=EventKind.maintenance, detail="30 dagar, moduler: Start."))
        e = s.get(Enrolment, people.enrolment_b)
        e.status, e.maintenance_started_at, e.maintenance_until = EnrolmentStatus.maintenance, at(5), date(2026, 3, 31)
    page = login_as("tove").get(f"/personal/moment/{people.enrolment_b}/tidslinje").text
    titles = events_of(page)
    assert titles.count("Momentet startades") == 1 and titles.count("Vidmakthållande började") == 1
    assert "Av Cissi Invånaradmin" in page and "30 dagar, moduler: Start." in page


@pytest.mark.parametrize(("name", "status"), [("tove", 200), ("tim", 200), ("cissi", 200), ("agnes", 404),
                                              ("dan", 404), ("olle", 404), ("anna", 403)])
def test_timeline_and_summary__who_may_read(app, people, login_as, name, status):
    browser = login_as(name)
    e = people.enrolment_a
    for url in (f"/personal/moment/{e}/tidslinje", f"/personal/moment/{e}/sammanfattning",
                f"/personal/moment/{e}/sammanfattning?format=text"):
        assert browser.get(url).status_code == status, url
    with db(app) as s:
        actions = sorted(r.action for r in s.scalars(select(AccessLogEntry).where(
            AccessLogEntry.action.in_(["enrolment.timeline", "enrolment.summary"]))))
        rows = list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "enrolment.timeline")))
    assert actions == ([] if status != 200 else ["enrolment.summary", "enrolment.summary", "enrolment.timeline"])
    assert all(r.enrolment_id == e and r.patient_id == people.patient_a for r in rows)


def test_timeline__unknown_enrolment(app, people, login_as):
    tove = login_as("tove")
    assert tove.get("/personal/moment/99999/tidslinje").status_code == 404
    assert tove.get("/personal/moment/99999/sammanfattning?format=text").status_code == 404


def test_summary__plain_text_for_the_record(app, people, anna, login_as):
    history(app, people)
    response = login_as("tove").get(f"/personal/moment/{people.enrolment_a}/sammanfattning", params={"format": "text"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.text
    assert text.splitlines()[:12] == [
        "Sammanfattning av moment i Stegvis",
        "Sammanställd: måndag 2 mars 2026 kl. 10.00",
        "",
        "Patient: Anna Test",
        "Program: Testprogrammet, version 0.1.0",
        "Vårdenhet: Hälsocentralen Test",
        "Behandlare: Tove Test",
        "Startat: måndag 2 mars 2026",
        "Status: Pågående",
        "Senast inloggad: 2 mars 2026 kl. 10.00",
        "",
        "Moduler som patienten har arbetat i:",
    ]
    assert "- Start: 1 av 2 steg öppnade." in text
    assert "- Mitt mål: inskickat 2 gånger, senast först: 2 mars 2026 (6 poäng, Hög); 2 mars 2026 (3 poäng, Låg)." \
        in text
    assert "- Antal steg: 1 registrering, senaste värde 6 500 steg (25 februari 2026), mål 8 000 steg." in text
    assert "- Mitt stegmål: 1 registrering, senaste värde 8 000 (23 februari 2026)." in text
    assert "\xa0" not in text
    assert "Meddelanden: 2 (1 från patienten, 1 från vården)." in text
    assert "Sidkommentarer: 2 (1 från patienten, 1 från vården)." in text
    for number in ("191212121212", "19121212-1212", "121212-1212", "1212121212"):
        assert number not in text
    assert "<" not in text  # plain text, nothing to escape


def test_summary__empty_enrolment_and_ended_status(app, people, login_as):
    with db(app) as s:
        e = s.get(Enrolment, people.enrolment_b)
        e.status, e.end_reason = EnrolmentStatus.ended, "Behandlingen är klar.\nMår bra."
        e.ended_at = datetime(2026, 3, 3, 12, tzinfo=UTC)
    text = login_as("tove").get(f"/personal/moment/{people.enrolment_b}/sammanfattning?format=text").text
    assert "Status: Avslutat tisdag 3 mars 2026. Orsak: Behandlingen är klar. Mår bra." in text
    assert "Senast inloggad: aldrig" in text
    assert "Moduler som patienten har arbetat i:\n- Inga ännu." in text
    assert "Formulär:\n- Inga inskickade." in text
    assert "- Antal steg: 0 registreringar.\n- Mitt stegmål: 0 registreringar.\n" in text
    assert "Meddelanden: 0 (0 från patienten, 0 från vården)." in text


def test_summary__page_and_timeline_textarea(app, people, login_as):
    history(app, people)
    tove = login_as("tove")
    e = people.enrolment_a
    page = tove.get(f"/personal/moment/{e}/sammanfattning").text
    plain = tove.get(f"/personal/moment/{e}/sammanfattning?format=text").text
    box = re.search(r'<textarea id="sammanfattning-text"[^>]*readonly[^>]*>(.*?)</textarea>', page, re.S)
    assert box is not None
    import html

    assert html.unescape(box.group(1)) == plain
    assert '<label for="sammanfattning-text">' in page and "st-event-title" not in page
    timeline = tove.get(f"/personal/moment/{e}/tidslinje").text
    assert 'id="sammanfattning-text"' in timeline and "Sammanfattning av moment i Stegvis" in timeline
    assert f'href="/personal/moment/{e}/sammanfattning?format=text"' in timeline
