//! The profile a person keeps: `PATCH /me`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

impl TestApp {
    pub(crate) async fn patch_me(&self, token: &str, body: Value) -> reqwest::Response {
        self.client
            .patch(self.url("/api/v1/me"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }
}

#[tokio::test]
async fn a_profile_change_shows_at_once_and_records_only_what_changed() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    let both = json!({ "display_name": "  Ada Lovelace ", "locale": "en-GB" });
    let changed = app.patch_me(token, both).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let me = body(changed).await;
    assert_eq!(me["display_name"], "Ada Lovelace");
    assert_eq!(me["locale"], "en-GB");
    // Only the locale now: the name stays, and the event says so.
    let locale = app.patch_me(token, json!({ "locale": "de-CH" })).await;
    assert_eq!(body(locale).await["display_name"], "Ada Lovelace");
    let me = body(app.me(token).await).await;
    assert_eq!(me["locale"], "de-CH");
    // The same again records nothing.
    app.patch_me(token, json!({ "locale": "de-CH" })).await;
    let updates = app
        .count_events("identity.user.ProfileUpdated", &account.id)
        .await;
    assert_eq!(updates, 2);
}

#[tokio::test]
async fn a_bad_display_name_or_locale_is_refused_naming_it_and_changes_nothing() {
    let app = spawn_app().await;
    let account = app.create_account().await;
    let token = &account.access_token;
    for body in [
        json!({ "display_name": "x".repeat(65) }),
        json!({ "display_name": "Ada\u{7}" }),
        json!({ "display_name": "   " }),
        json!({ "locale": "english_UK" }),
        json!({ "display_name": "Ada", "locale": "en_US" }),
    ] {
        let refused = app.patch_me(token, body.clone()).await;
        let problem = assert_invalid(refused).await;
        assert!(
            problem["errors"][0]["field"].is_string(),
            "{body}: {problem}"
        );
    }
    let me = body(app.me(token).await).await;
    assert!(me["display_name"].is_null() && me["locale"].is_null());
}
