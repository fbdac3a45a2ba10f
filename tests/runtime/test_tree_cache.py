"""Issue 16: the patient's module tree is kept per process between its changes, and every change is seen.

The tree (current modules, visible steps, whether a plan shows) is kept by the
enrolment's `tree_version`, which a flush listener changes in the same transaction as
any change to what the patient sees (runtime.models, TREE_CHANGES). These tests change
the enrolment through the staff pages after the patient's pages have cached the tree,
and change rows directly through the ORM, and check that the version (and so the
pages) follow every change and only those.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update

from runtime.models import (
    Enrolment,
    EnrolmentModule,
    EnrolmentPlan,
    EnrolmentStatus,
    ModuleState,
    StepSetting,
    new_tree_version,
)


def session(app):
    return app.state.stegvis.db.session()


def version(app, eid: int) -> int:
    with session(app) as db:
        return db.scalar(select(Enrolment.tree_version).where(Enrolment.id == eid))


def test_tree__kept_between_requests_and_every_staff_change_seen_at_once(app, people, login_as, anna):
    e = people.enrolment_a
    trees = app.state.stegvis.trees
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 200
    assert "steg/fordjupning/mer" not in anna.get(f"/moment/{e}").text  # an upcoming module
    kept = dict(trees._items)
    assert len(kept) == 1
    assert anna.get(f"/moment/{e}/steg/start/mitt-mal").status_code == 200
    assert dict(trees._items) == kept  # the same tree object, not read again

    tove = login_as("tove")
    saved = tove.post(f"/personal/moment/{e}/anpassa", {
        "_section": "innehall", "modul:start": "aktuell", "modul:fordjupning": "aktuell",
        "steg:start/valkommen": "dolt", "steg:start/mitt-mal": "synligt", "steg:fordjupning/mer": "synligt"})
    assert saved.status_code == 303
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 404
    start = anna.get(f"/moment/{e}")
    assert "steg/start/valkommen" not in start.text and "steg/fordjupning/mer" in start.text
    assert anna.get(f"/moment/{e}/steg/fordjupning/mer").status_code == 200

    tove.post(f"/personal/moment/{e}/anpassa", {
        "_section": "innehall", "modul:start": "aktuell", "modul:fordjupning": "kommande",
        "steg:start/valkommen": "synligt", "steg:start/mitt-mal": "synligt", "steg:fordjupning/mer": "synligt"})
    assert anna.get(f"/moment/{e}/steg/start/valkommen").status_code == 200
    assert anna.get(f"/moment/{e}/steg/fordjupning/mer").status_code == 404

    kept = version(app, e)
    done = tove.post(f"/personal/moment/{e}/vidmakthall", {"dagar": "10", "moduler": ["start"], "bekrafta": "ja"})
    assert done.status_code == 303
    assert version(app, e) != kept
    page = anna.get(f"/moment/{e}/steg/start/valkommen")
    assert page.status_code == 200 and "vidmakthållande" in page.text


def test_tree_version__changes_with_what_the_patient_sees_and_nothing_else(app, people):
    e = people.enrolment_a
    v = version(app, e)

    def changed(change) -> bool:
        nonlocal v
        with session(app) as db:
            change(db, db.get(Enrolment, e))
        before, v = v, version(app, e)
        return v != before

    def module(db, enrolment, module_id="fordjupning"):
        return next(m for m in enrolment.modules if m.module_id == module_id)

    def plan(db, enrolment):
        return enrolment.plans[0]

    # What the patient's tree does not depend on: the version stays.
    assert not changed(lambda db, en: setattr(en, "welcome_text", "Hej!"))
    assert not changed(lambda db, en: db.execute(update(Enrolment).where(Enrolment.id == e)
                                                 .values(last_patient_activity_at=en.started_at)))
    assert not changed(lambda db, en: setattr(module(db, en), "changed_at", en.started_at))
    assert not changed(lambda db, en: setattr(plan(db, en), "missed_checked_until", en.started_at))
    # What it does depend on, through the parent or the child, loaded or not.
    assert changed(lambda db, en: setattr(module(db, en), "state", ModuleState.current))
    assert changed(lambda db, en: en.step_settings.append(StepSetting(module_id="start", step_id="valkommen",
                                                                      visible=False, changed_at=en.started_at)))
    assert changed(lambda db, en: setattr(db.scalar(select(StepSetting).where(StepSetting.enrolment_id == e)),
                                          "visible", True))  # the enrolment is loaded here too
    with session(app) as db:  # the enrolment not loaded in this session: the listener updates its row
        db.scalar(select(StepSetting).where(StepSetting.enrolment_id == e)).visible = False
    assert version(app, e) != v
    v = version(app, e)
    assert changed(lambda db, en: db.delete(db.scalar(select(StepSetting).where(StepSetting.enrolment_id == e))))
    assert changed(lambda db, en: setattr(plan(db, en), "activated", not plan(db, en).activated))
    assert changed(lambda db, en: setattr(plan(db, en), "start_date", date(2026, 3, 9)))
    assert changed(lambda db, en: en.modules.append(EnrolmentModule(module_id="extra", position=9,
                                                                    state=ModuleState.upcoming)))
    assert changed(lambda db, en: setattr(en, "status", EnrolmentStatus.maintenance))
    assert changed(lambda db, en: setattr(en, "maintenance_until", date(2026, 4, 1)))


def test_tree_version__new_enrolments_and_plans_differ(app, people):
    with session(app) as db:
        versions = {db.get(Enrolment, people.enrolment_a).tree_version, db.get(Enrolment, people.enrolment_b).tree_version}
        assert len(versions) == 2 and 0 not in versions  # random: a reused id never meets an old cache entry
        assert new_tree_version() != new_tree_version()
        plans = db.scalars(select(EnrolmentPlan).where(EnrolmentPlan.enrolment_id == people.enrolment_a)).all()
        assert plans  # the plan change above has something to change
