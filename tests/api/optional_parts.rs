//! What runs without the optional parts: no SMTP relay (mail goes to
//! files) and no NATS (the relay is off; readiness does not need it).

use reqwest::StatusCode;

use crate::helpers::*;

/// The `.eml` files written so far under `data_dir`.
pub fn mail_files(data_dir: &std::path::Path) -> Vec<String> {
    let dir = data_dir.join("mail");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[tokio::test]
async fn without_smtp_the_verification_code_is_written_to_the_mail_directory() {
    let app = spawn_app_with(|c| c.smtp_enabled = false).await;
    let name = unique_name();
    let email = format!("{name}@example.com");
    let response = app.register(&name, &email, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let message = eventually(std::time::Duration::from_secs(5), || async {
        mail_files(&app.config.data_dir)
            .into_iter()
            .find(|m| m.contains(&email))
    })
    .await;
    let code = crate::smtp::extract_code(&message).expect("the code is in the message");
    assert!(!logs_contain(&code), "the code was logged");
    assert!(app.smtp.mails().is_empty(), "nothing went to SMTP");
    let verified = app.verify_email(&email, &code).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let login = app.login(&name, PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_nats_the_relay_is_off_and_the_service_is_ready() {
    let app = spawn_app_with(|c| {
        c.relay_enabled = false;
        // Nothing listens here: were the relay on, it could never publish.
        c.relay.url = "nats://127.0.0.1:1".to_owned();
    })
    .await;
    app.create_account().await;
    let ready = app.ready().await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["relay"], "off");
}
