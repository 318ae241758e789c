//! The SMS client against a real provider stand-in (the Twilio Messages
//! API on loopback): delivery, credentials, files without a provider, and
//! the circuit breaker around a provider that is down.

use std::time::{Duration, Instant};

use identity::config::SmsConfig;
use identity::sms::{SmsError, SmsSender};
use sinks::SmsSink;

const ACCOUNT: &str = "AC0123456789";
const TOKEN: &str = "sink-token";
const TO: &str = "+4915123456789";

fn config(sink: &SmsSink, token: &str) -> SmsConfig {
    SmsConfig {
        url: Some(sink.url()),
        account: ACCOUNT.to_owned(),
        token: Some(token.to_owned()),
        from: "+15005550006".to_owned(),
        timeout: Duration::from_secs(2),
        breaker_cool_down: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn a_text_goes_to_the_provider_with_its_credentials() {
    let sink = SmsSink::start(ACCOUNT, TOKEN).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let sender = SmsSender::new(&config(&sink, TOKEN), data.path()).unwrap();
    sender
        .send(TO, "Your sign-in code is 123456")
        .await
        .unwrap();
    let sent = sink.messages_to(TO);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].from, "+15005550006");
    assert_eq!(
        sink.nth_code(TO, 1, Duration::from_secs(1))
            .await
            .as_deref(),
        Some("123456")
    );
    // Wrong credentials are the provider's refusal, named by its status.
    let wrong = SmsSender::new(&config(&sink, "wrong"), data.path()).unwrap();
    let refused = wrong.send(TO, "x").await.unwrap_err();
    assert!(refused.to_string().contains("sending failed"), "{refused}");
    let chain = identity::telemetry::Chain(&refused).to_string();
    assert!(chain.contains("401"), "{chain}");
}

#[tokio::test]
async fn without_a_provider_texts_are_written_to_the_data_directory() {
    let data = tempfile::tempdir().unwrap();
    let sender = SmsSender::new(
        &SmsConfig {
            url: None,
            ..config_without_sink()
        },
        data.path(),
    )
    .unwrap();
    sender
        .send(TO, "Your sign-in code is 654321")
        .await
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(data.path().join("sms"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
    assert!(text.contains(TO) && text.contains("654321"), "{text}");
}

fn config_without_sink() -> SmsConfig {
    SmsConfig {
        url: None,
        account: ACCOUNT.to_owned(),
        token: None,
        from: "+15005550006".to_owned(),
        timeout: Duration::from_secs(2),
        breaker_cool_down: Duration::from_millis(300),
    }
}

#[tokio::test]
async fn a_provider_that_is_down_trips_the_breaker_promptly_and_it_closes_when_it_returns() {
    let sink = SmsSink::start(ACCOUNT, TOKEN).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let sender = SmsSender::new(&config(&sink, TOKEN), data.path()).unwrap();
    sink.stop();
    // Each call fails fast (connection refused), and after five the
    // circuit opens: the next is refused without calling at all.
    for _ in 0..5 {
        let started = Instant::now();
        assert!(matches!(sender.send(TO, "x").await, Err(SmsError::Send(_))));
        assert!(started.elapsed() < Duration::from_secs(2), "a call hung");
    }
    assert!(sender.circuit_open());
    let started = Instant::now();
    let refused = sender.send(TO, "x").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(100));
    let chain = identity::telemetry::Chain(&refused).to_string();
    assert!(chain.contains("circuit open"), "{chain}");
    // The provider returns; after the cool-down a trial call closes it.
    sink.restart().await.unwrap();
    tokio::time::sleep(Duration::from_millis(350)).await;
    sender
        .send(TO, "Your sign-in code is 111222")
        .await
        .unwrap();
    assert!(!sender.circuit_open());
    assert_eq!(sink.messages_to(TO).len(), 1);
}
