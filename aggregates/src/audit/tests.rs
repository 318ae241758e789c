use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::DomainEvent;
use uuid::Uuid;

use super::*;

type AuditTest = TestFramework<Audit>;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, minute, 0).unwrap()
}

fn subject() -> Uuid {
    Uuid::from_u128(7)
}

fn view(viewer: &str, subject: Uuid, minute: u32) -> AuditCommand {
    AuditCommand::RecordHistoryView {
        viewer: viewer.to_owned(),
        subject,
        as_of: Some(at(0)),
        via: Via::Api,
        at: at(minute),
    }
}

fn viewed(viewer: &str, minute: u32) -> AuditEvent {
    AuditEvent::HistoryViewed {
        viewer: viewer.to_owned(),
        subject: subject(),
        as_of: Some(at(0)),
        via: Via::Api,
        viewed_at: at(minute),
    }
}

#[test]
fn record_history_view_records_history_viewed_when_first_view() {
    AuditTest::with(())
        .given_no_previous_events()
        .when(view("auditor-1", subject(), 1))
        .then_expect_events(vec![viewed("auditor-1", 1)]);
}

#[test]
fn record_history_view_records_every_view_when_repeated() {
    AuditTest::with(())
        .given(vec![viewed("auditor-1", 1), viewed("auditor-1", 2)])
        .when(view("auditor-1", subject(), 3))
        .then_expect_events(vec![viewed("auditor-1", 3)]);
}

#[test]
fn record_history_view_fails_when_viewer_missing() {
    AuditTest::with(())
        .given_no_previous_events()
        .when(view(" ", subject(), 1))
        .then_expect_error(AuditError::ViewerMissing);
}

#[test]
fn record_history_view_fails_when_stream_belongs_to_another_subject() {
    AuditTest::with(())
        .given(vec![viewed("auditor-1", 1)])
        .when(view("auditor-1", Uuid::from_u128(8), 2))
        .then_expect_error(AuditError::WrongSubject);
}

#[test]
fn applying_views_counts_them_and_keeps_the_last() {
    let mut audit = Audit::default();
    Aggregate::apply(&mut audit, viewed("a", 1));
    Aggregate::apply(&mut audit, viewed("b", 2));
    assert_eq!(audit.subject, Some(subject()));
    assert_eq!(audit.views, 2);
    assert_eq!(audit.last_viewed_at, Some(at(2)));
}

#[test]
fn audit_events_have_namespaced_stable_names_and_payloads() {
    let event = viewed("cli", 1);
    assert_eq!(event.event_type(), "identity.audit.HistoryViewed");
    assert_eq!(event.event_version(), "1");
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["HistoryViewed"]["via"], "api");
    assert_eq!(json["HistoryViewed"]["subject"], subject().to_string());
}

#[test]
fn names_lists_the_name_of_every_variant_once() {
    let samples = [viewed("a", 1)];
    // Exhaustive on purpose (no `_` arm): a new variant fails to compile
    // here until it gets a sample above and its name in `NAMES`.
    samples.iter().for_each(|event| match event {
        AuditEvent::HistoryViewed { .. } => {}
    });
    let named: Vec<&str> = samples.iter().map(AuditEvent::name).collect();
    assert_eq!(named, AuditEvent::NAMES);
}
