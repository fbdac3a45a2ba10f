"""Domain services: what patients and staff do, once, for the pages and the JSON API alike.

Layer: above the domain basics (runtime.enrolments, forms, schedule, purge,
patient_files), the request-free context (runtime.context) and audit, auth and identity;
beneath jobs and demo, presentation (runtime.views) and the web routes (runtime.pages,
runtime.api, runtime.staff). Input is a `runtime.context.Ctx` whose user the route has
identified; output is rows written in its unit of work, each with its access-log row, or
an `AppError` with a Swedish message.

- `patient`: the patient's own actions (steps opened, drafts, submissions, page
  comments, registrations, messages) and loading the patient's own enrolment.
- `access`: the staff policy table (who may do what, per unit).
- `enrolment`: starting and customising an enrolment.
- `plans`: a therapist's activity plans (schedule settings; own plans checked with the
  builder's `ActivityPlan` model).
- `flags`: the missed-registration check.
- `messages`: the therapist's side of message threads, and their page comments.
- `lifecycle`: maintenance, ending, links, therapist change, handover, version moves.
- `roles`: granting and revoking roles, creating staff accounts.
- `profile`: a member of staff's unit and notice settings.
- `events`: lifecycle events for the timeline.
- `notify`: notices to patients and therapists, and the outbox that sends them.

Must not: import FastAPI, a route module or presentation; take a Request.
"""
