//! RBAC and the admin API.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn admin_routes_answer_401_without_a_token_and_403_without_the_role() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    let id = uuid::Uuid::new_v4();
    let routes = [
        ("GET", "/api/v1/admin/users".to_owned()),
        ("GET", format!("/api/v1/admin/users/{id}")),
        ("POST", format!("/api/v1/admin/users/{id}/lock")),
        ("POST", format!("/api/v1/admin/users/{id}/unlock")),
        ("POST", format!("/api/v1/admin/users/{id}/deactivate")),
        ("POST", format!("/api/v1/admin/users/{id}/reactivate")),
        ("PUT", format!("/api/v1/admin/users/{id}/roles")),
    ];
    for (method, path) in &routes {
        let method: reqwest::Method = method.parse().unwrap();
        let anonymous = app
            .client
            .request(method.clone(), app.url(path))
            .json(&json!({"roles": ["user"]}))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let plain_user = app
            .client
            .request(method, app.url(path))
            .bearer_auth(&user.access_token)
            .json(&json!({"roles": ["user"]}))
            .send()
            .await
            .unwrap();
        assert_problem(plain_user, StatusCode::FORBIDDEN, "forbidden").await;
    }
}

#[tokio::test]
async fn admins_search_users_by_prefix_and_status_with_pagination() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let name = format!("zeta{i}_{}", unique_name());
        let email = format!("{name}@example.com");
        assert_eq!(
            app.register(&name, &email, PASSWORD).await.status(),
            StatusCode::CREATED
        );
        ids.push(name);
    }
    // Two pages by cursor, in username order, each account once.
    let page: Value = body(
        app.get_with_token(
            "/api/v1/admin/users?query=ZETA&per_page=2",
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert!(page.get("total").is_none(), "no total: {page}");
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let page2: Value = body(
        app.get_with_token(
            &format!("/api/v1/admin/users?query=zeta&per_page=2&cursor={cursor}"),
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["next_cursor"].is_null(), "{page2}");
    let seen: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|item| item["username"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(seen, expected);

    let target = page["items"][0]["id"].as_str().unwrap().to_owned();
    let response = app
        .admin_post(
            &format!("/api/v1/admin/users/{target}/deactivate"),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(body(response).await["status"], "deactivated");
    let deactivated: Value = body(
        app.get_with_token(
            "/api/v1/admin/users?query=zeta&status=deactivated",
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(deactivated["items"].as_array().unwrap().len(), 1);
    assert_eq!(deactivated["items"][0]["id"], target.as_str());
    let active: Value = body(
        app.get_with_token(
            "/api/v1/admin/users?query=zeta&status=active",
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(active["items"].as_array().unwrap().len(), 2);

    let response = app
        .get_with_token(
            "/api/v1/admin/users?status=bogus&per_page=500",
            &admin.access_token,
        )
        .await;
    let problem = assert_invalid(response).await;
    assert_eq!(problem["errors"].as_array().unwrap().len(), 2);

    let one: Value = body(
        app.get_with_token(
            &format!("/api/v1/admin/users/{target}"),
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(one["id"], target.as_str());
    let missing = app
        .get_with_token(
            &format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4()),
            &admin.access_token,
        )
        .await;
    assert_problem(missing, StatusCode::NOT_FOUND, "not_found").await;
}

/// Every page of `path` (a search without `cursor`), `per_page` 1, by
/// following `next_cursor`: the ids in the order given.
async fn walk(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => format!("{path}&per_page=1"),
            Some(c) => format!("{path}&per_page=1&cursor={c}"),
        };
        let page = body(app.get_with_token(&url, token).await).await;
        for item in page["items"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
        assert!(ids.len() < 100, "paging does not end: {ids:?}");
    }
}

#[tokio::test]
async fn each_shape_of_admin_search_pages_by_cursor_through_every_match_once() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let tag = unique_name();
    let mut accounts = Vec::new();
    for i in 0..4 {
        let name = format!("{tag}{i}");
        let email = format!("mail{i}{tag}@example.com");
        let response = app.register(&name, &email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = body(response).await["id"].as_str().unwrap().to_owned();
        accounts.push((id, name, email));
    }
    let token = &admin.access_token;
    // Everyone, oldest first: ours in registration order, after the admin.
    let everyone = walk(&app, token, "/api/v1/admin/users?status=active").await;
    let ours: Vec<&String> = everyone
        .iter()
        .filter(|id| accounts.iter().any(|(a, _, _)| a == *id))
        .collect();
    let registered: Vec<&String> = accounts.iter().map(|(id, _, _)| id).collect();
    assert_eq!(ours, registered);
    assert_eq!(everyone.len(), 5, "{everyone:?}");
    // By username prefix and by email prefix, in that field's order.
    let by_name = walk(&app, token, &format!("/api/v1/admin/users?username={tag}")).await;
    assert_eq!(by_name.iter().collect::<Vec<_>>(), registered);
    let by_email = walk(&app, token, "/api/v1/admin/users?email=MAIL").await;
    let by_query = walk(&app, token, "/api/v1/admin/users?query=mail2").await;
    assert_eq!(by_email.len(), 4, "{by_email:?}");
    assert!(by_query.is_empty(), "query without @ is a username prefix");
    let by_query = walk(
        &app,
        token,
        &format!("/api/v1/admin/users?query=mail2{tag}@"),
    )
    .await;
    assert_eq!(by_query, vec![accounts[2].0.clone()]);
    // Locked ones alone, soonest to unlock first.
    for (secs, (id, _, _)) in [(900, &accounts[0]), (300, &accounts[3])] {
        let response = app
            .admin_post(
                &format!("/api/v1/admin/users/{id}/lock"),
                token,
                Some(json!({"duration_secs": secs})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let locked = walk(&app, token, "/api/v1/admin/users?status=locked").await;
    assert_eq!(locked, vec![accounts[3].0.clone(), accounts[0].0.clone()]);
    // A cursor of another search, two prefixes at once, or an old page
    // number: refused, naming the field.
    let text_cursor = body(
        app.get_with_token("/api/v1/admin/users?email=mail&per_page=1", token)
            .await,
    )
    .await["next_cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, field) in [
        (
            format!("/api/v1/admin/users?cursor={text_cursor}"),
            "cursor",
        ),
        ("/api/v1/admin/users?cursor=%%%".to_owned(), "cursor"),
        (
            "/api/v1/admin/users?email=a&username=b".to_owned(),
            "username",
        ),
        ("/api/v1/admin/users?page=2".to_owned(), "page"),
    ] {
        let problem = assert_invalid(app.get_with_token(&path, token).await).await;
        assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
    }
}

#[tokio::test]
async fn deactivation_stops_refresh_at_once_and_blocks_login_until_reactivated() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let user = app.create_account().await;
    let response = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/deactivate", user.id),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    assert_problem(
        app.refresh(&user.refresh_token).await,
        StatusCode::UNAUTHORIZED,
        "invalid_refresh_token",
    )
    .await;
    assert_problem(
        app.login(&user.username, PASSWORD).await,
        StatusCode::FORBIDDEN,
        "account_deactivated",
    )
    .await;
    // A wrong password still gets the plain answer: deactivation is not revealed.
    assert_problem(
        app.login(&user.username, "Wrong-Password-1!").await,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let revoked: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT count(*) FROM user_sessions WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(uuid::Uuid::parse_str(&user.id).unwrap())
        .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(revoked, 0, "every session revoked");

    let response = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/reactivate", user.id),
            &admin.access_token,
            None,
        )
        .await;
    assert_eq!(body(response).await["status"], "active");
    assert_eq!(
        app.login(&user.username, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_lock_blocks_login_and_records_the_admin_as_actor() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let user = app.create_account().await;
    let response = app
        .admin_post(
            &format!("/api/v1/admin/users/{}/lock", user.id),
            &admin.access_token,
            Some(json!({"duration_secs": 600})),
        )
        .await;
    let summary = body(response).await;
    assert_eq!(summary["status"], "locked");
    assert_problem(
        app.login(&user.username, PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS,
        "account_locked",
    )
    .await;
    let metadata: Value = on_db!(&app.db, pool => {
sqlx::query_scalar("SELECT metadata FROM events WHERE event_type = 'identity.user.AccountLocked' AND aggregate_id = $1")
        .bind(&user.id)
        .fetch_one(pool)
.await
})
        .unwrap();
    assert_eq!(metadata["actor"], admin.id.as_str());
    assert!(metadata["request_id"].is_string());
}

#[tokio::test]
async fn admins_cannot_lock_themselves_out_but_another_admin_can() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let own = |action: &str| format!("/api/v1/admin/users/{}/{action}", admin.id);
    let set_own_roles = |roles: Value| {
        app.client
            .put(app.url(&own("roles")))
            .bearer_auth(&admin.access_token)
            .json(&json!({ "roles": roles }))
            .send()
    };
    let deactivate = app
        .admin_post(&own("deactivate"), &admin.access_token, None)
        .await;
    assert_problem(deactivate, StatusCode::CONFLICT, "cannot_lock_out_self").await;
    let lock = app
        .admin_post(
            &own("lock"),
            &admin.access_token,
            Some(json!({"duration_secs": 600})),
        )
        .await;
    assert_problem(lock, StatusCode::CONFLICT, "cannot_lock_out_self").await;
    let demote = set_own_roles(json!(["user"])).await.unwrap();
    assert_problem(demote, StatusCode::CONFLICT, "cannot_lock_out_self").await;
    // Nothing happened; roles that keep `admin` are fine.
    let more = set_own_roles(json!(["user", "admin", "auditor"]))
        .await
        .unwrap();
    assert_eq!(
        body(more).await["roles"],
        json!(["admin", "auditor", "user"])
    );
    assert_eq!(
        app.login(&admin.username, PASSWORD).await.status(),
        StatusCode::OK
    );

    let other = app.create_account_with_role("admin").await;
    let deactivated = app
        .admin_post(&own("deactivate"), &other.access_token, None)
        .await;
    assert_eq!(deactivated.status(), StatusCode::OK);
}

#[tokio::test]
async fn roles_set_by_an_admin_appear_in_the_next_access_token_and_me() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let user = app.create_account().await;
    let path = format!("/api/v1/admin/users/{}/roles", user.id);
    let response = app
        .client
        .put(app.url(&path))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["user", "auditor"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(body(response).await["roles"], json!(["auditor", "user"]));

    let pair = body(app.refresh(&user.refresh_token).await).await;
    let token = pair["access_token"].as_str().unwrap();
    let claims = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&base64_decode(claims)).unwrap();
    assert_eq!(claims["roles"], json!(["auditor", "user"]));
    assert_eq!(
        body(app.me(token).await).await["roles"],
        json!(["auditor", "user"])
    );

    let bad = app
        .client
        .put(app.url(&path))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["wizard"]}))
        .send()
        .await
        .unwrap();
    assert_invalid(bad).await;
    let no_user = app
        .client
        .put(app.url(&path))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["admin"]}))
        .send()
        .await
        .unwrap();
    assert_invalid(no_user).await;
}

#[tokio::test]
async fn the_admin_command_bootstraps_the_first_admin() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    // Awaited, not blocking: the command catches up a projection under the
    // projector's advisory lock, which this test's own server (on the same
    // runtime) may hold mid-batch; blocking the runtime would deadlock.
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .args([
            "admin",
            "grant-role",
            "--email",
            &format!("{}@example.com", user.username),
            "--role",
            "admin",
        ])
        .env("IDENTITY_DATABASE_URL", &app.config.database_url)
        .env("IDENTITY_LOG", "warn")
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let pair = body(app.login(&user.username, PASSWORD).await).await;
    let response = app
        .get_with_token(
            "/api/v1/admin/users",
            pair["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

fn base64_decode(segment: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap()
}
