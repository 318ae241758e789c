//! Response compression: gzip or br as the client accepts, for answers
//! worth it; never for small ones or for the event stream.

use reqwest::StatusCode;

use crate::helpers::*;

async fn get(app: &TestApp, path: &str, encoding: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("accept-encoding", encoding)
        .send()
        .await
        .expect("request sent")
}

fn encoding_of(response: &reqwest::Response) -> Option<String> {
    response
        .headers()
        .get("content-encoding")
        .map(|value| value.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_large_json_answer_is_compressed_as_the_client_accepts() {
    let app = spawn_app().await;
    let plain = get(&app, "/openapi.json", "identity").await;
    assert_eq!(encoding_of(&plain), None);
    let plain_len = plain.bytes().await.unwrap().len();
    for encoding in ["gzip", "br"] {
        let response = get(&app, "/openapi.json", encoding).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(encoding_of(&response).as_deref(), Some(encoding));
        let vary = response.headers()["vary"].to_str().unwrap().to_owned();
        assert!(vary.contains("accept-encoding"), "{vary}");
        let compressed = response.bytes().await.unwrap().len();
        assert!(
            compressed * 4 < plain_len,
            "{encoding}: {compressed} of {plain_len}"
        );
    }
}

#[tokio::test]
async fn a_small_answer_is_sent_as_it_is() {
    let app = spawn_app().await;
    let response = get(&app, "/health/live", "gzip, br").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(encoding_of(&response), None);
}

#[tokio::test]
async fn the_event_stream_is_never_compressed() {
    let app = spawn_app().await;
    let service = app.create_account_with_role("service").await;
    let response = app
        .client
        .get(app.url("/api/v1/events/stream?after=0"))
        .bearer_auth(&service.access_token)
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(encoding_of(&response), None);
}
