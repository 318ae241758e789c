//! The influencer program: applications, their review, referral codes and
//! the admin controls on influencers.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

fn application() -> Value {
    json!({
        "display_name": "Ada Codes",
        "channels": [{"platform": "youtube", "url": "https://youtube.com/@ada", "audience_size": 12000}],
        "pitch": "I teach Rust to 12k people a week."
    })
}

impl TestApp {
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Response {
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("request sent")
    }

    /// The influencer with `token` claims vanity `code`.
    pub(crate) async fn claim_code(&self, token: &str, code: &str) -> Response {
        let body = json!({ "code": code });
        self.admin_post("/api/v1/influencer/codes", token, Some(body))
            .await
    }

    /// The influencer with `token` deactivates `code`.
    pub(crate) async fn deactivate_code(&self, token: &str, code: &str) -> Response {
        let path = format!("/api/v1/influencer/codes/{code}");
        self.send(Method::DELETE, &path, token, None).await
    }

    pub(crate) async fn apply(&self, token: &str) -> Response {
        self.admin_post(
            "/api/v1/influencer/applications",
            token,
            Some(application()),
        )
        .await
    }

    /// The first application waiting in the queue for this applicant.
    pub(crate) async fn pending_application_of(&self, admin: &str, user_id: &str) -> Value {
        let queue = body(
            self.get_with_token(
                "/api/v1/admin/influencer-applications?status=pending&per_page=100",
                admin,
            )
            .await,
        )
        .await;
        queue["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|a| a["user_id"] == user_id)
            .cloned()
            .expect("application in the queue")
    }

    /// A verified user with a pending application, and its id.
    pub(crate) async fn applicant(&self) -> (Account, String) {
        let account = self.create_account().await;
        let submitted = body(self.apply(&account.access_token).await).await;
        let id = submitted["id"].as_str().expect("id").to_owned();
        (account, id)
    }

    /// An approved influencer, logged in again so the token carries the
    /// role; returns the account and its generated code.
    pub(crate) async fn create_influencer(&self, admin: &str) -> (Account, String) {
        let (mut account, id) = self.applicant().await;
        let approved = self
            .admin_post(
                &format!("/api/v1/admin/influencer-applications/{id}/approve"),
                admin,
                None,
            )
            .await;
        assert_eq!(approved.status(), StatusCode::OK);
        let code = body(approved).await["referral_code"]
            .as_str()
            .expect("code")
            .to_owned();
        let pair = body(self.login(&account.username, PASSWORD).await).await;
        account.access_token = pair["access_token"].as_str().expect("access").to_owned();
        (account, code)
    }
}

#[tokio::test]
async fn apply_then_approve_issues_a_code_and_grants_the_influencer_role() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let user = app.create_account().await;

    let response = app.apply(&user.access_token).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let submitted = body(response).await;
    assert_eq!(submitted["status"], "pending");
    assert!(submitted["submitted_at"].is_string());
    let id = submitted["id"].as_str().unwrap().to_owned();

    let again = app.apply(&user.access_token).await;
    assert_problem(again, StatusCode::CONFLICT, "application_pending").await;

    let mine = body(
        app.get_with_token("/api/v1/influencer/applications/mine", &user.access_token)
            .await,
    )
    .await;
    assert_eq!(mine[0]["id"], id.as_str());
    assert_eq!(mine[0]["status"], "pending");
    assert_eq!(
        app.pending_application_of(&admin.access_token, &user.id)
            .await["id"],
        id.as_str()
    );

    let path = format!("/api/v1/admin/influencer-applications/{id}/approve");
    let approved = app.admin_post(&path, &admin.access_token, None).await;
    assert_eq!(approved.status(), StatusCode::OK);
    let approved = body(approved).await;
    assert_eq!(approved["influencer_id"], user.id.as_str());
    let code = approved["referral_code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(code
        .chars()
        .all(|c| "23456789ABCDEFGHJKLMNPQRSTUVWXYZ".contains(c)));

    let twice = app.admin_post(&path, &admin.access_token, None).await;
    assert_problem(twice, StatusCode::CONFLICT, "already_decided").await;
    let mine = body(
        app.get_with_token("/api/v1/influencer/applications/mine", &user.access_token)
            .await,
    )
    .await;
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["referral_code"], code);
    let roles: identity::store::Roles = on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT roles FROM login_lookup WHERE user_id = $1")
                .bind(uuid::Uuid::parse_str(&user.id).unwrap())
                .fetch_one(pool)
    .await
    })
    .unwrap();
    assert!(roles.0.contains(&"influencer".to_owned()), "{roles:?}");
}

#[tokio::test]
async fn apply_is_refused_without_a_token_or_with_incomplete_input() {
    let app = spawn_app().await;
    let user = app.create_account().await;
    let anonymous = app
        .post("/api/v1/influencer/applications", application())
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let missing = app
        .admin_post(
            "/api/v1/influencer/applications",
            &user.access_token,
            Some(json!({"display_name": "Ada"})),
        )
        .await;
    assert_invalid(missing).await;
    let mut bad_url = application();
    bad_url["channels"][0]["url"] = json!("ftp://example.com");
    let bad = app
        .admin_post(
            "/api/v1/influencer/applications",
            &user.access_token,
            Some(bad_url),
        )
        .await;
    let problem = assert_invalid(bad).await;
    assert_eq!(problem["errors"][0]["field"], "channels");
}

#[tokio::test]
async fn an_approval_interrupted_before_the_role_grant_is_finished_by_the_admins_retry() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (user, id) = app.applicant().await;
    // What a crash between the two commands of an approval leaves behind:
    // the approval committed on the influencer's stream, no role granted.
    let influencers: identity::store::Repository<aggregates::Influencer> =
        identity::store::Repository::new(app.db.clone(), Default::default());
    influencers
        .execute(
            &user.id,
            aggregates::InfluencerCommand::ApproveApplication {
                code: "CRASHED2".to_owned(),
                commission_rate: Default::default(),
                by: admin.id.clone(),
                at: chrono::Utc::now(),
            },
            &Default::default(),
        )
        .await
        .unwrap();
    eventually(std::time::Duration::from_secs(10), || async {
        let mine = body(
            app.get_with_token("/api/v1/influencer/applications/mine", &user.access_token)
                .await,
        )
        .await;
        (mine[0]["status"] == "approved").then_some(())
    })
    .await;
    let roles_of = || async {
        on_db!(&app.db, pool => {
        sqlx::query_scalar::<_, identity::store::Roles>(
                    "SELECT roles FROM login_lookup WHERE user_id = $1",
                )
                .bind(uuid::Uuid::parse_str(&user.id).unwrap())
                .fetch_one(pool)
        .await
        })
        .unwrap()
    };
    assert!(!roles_of().await.0.contains(&"influencer".to_owned()));

    let path = format!("/api/v1/admin/influencer-applications/{id}/approve");
    let retried = app.admin_post(&path, &admin.access_token, None).await;
    assert_eq!(retried.status(), StatusCode::OK);
    let retried = body(retried).await;
    assert_eq!(retried["influencer_id"], user.id.as_str());
    assert_eq!(retried["referral_code"], "CRASHED2");
    assert!(roles_of().await.0.contains(&"influencer".to_owned()));
    // Finished: from now on a repeat is a conflict again.
    let twice = app.admin_post(&path, &admin.access_token, None).await;
    assert_problem(twice, StatusCode::CONFLICT, "already_decided").await;

    // A role an admin takes away on purpose is not handed back by a retry.
    let revoked = app
        .client
        .put(app.url(&format!("/api/v1/admin/users/{}/roles", user.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({"roles": ["user"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::OK);
    let again = app.admin_post(&path, &admin.access_token, None).await;
    assert_problem(again, StatusCode::CONFLICT, "already_decided").await;
    assert!(!roles_of().await.0.contains(&"influencer".to_owned()));
}

#[tokio::test]
async fn rejected_applicants_see_the_reason_and_may_reapply_only_after_30_days() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (user, id) = app.applicant().await;
    let path = format!("/api/v1/admin/influencer-applications/{id}/reject");

    let no_reason = app
        .admin_post(&path, &admin.access_token, Some(json!({})))
        .await;
    assert_invalid(no_reason).await;
    let rejected = app
        .admin_post(
            &path,
            &admin.access_token,
            Some(json!({"reason": "no audience"})),
        )
        .await;
    assert_eq!(rejected.status(), StatusCode::OK);
    assert_eq!(body(rejected).await["status"], "rejected");

    let twice = app
        .admin_post(&path, &admin.access_token, Some(json!({"reason": "again"})))
        .await;
    assert_problem(twice, StatusCode::CONFLICT, "already_decided").await;
    let too_soon = app.apply(&user.access_token).await;
    let problem = assert_problem(too_soon, StatusCode::CONFLICT, "too_soon_to_reapply").await;
    assert!(problem["detail"].as_str().unwrap().contains("from"));
    let mine = body(
        app.get_with_token("/api/v1/influencer/applications/mine", &user.access_token)
            .await,
    )
    .await;
    assert_eq!(mine[0]["reason"], "no audience");
    let queue = body(
        app.get_with_token("/api/v1/admin/influencer-applications", &admin.access_token)
            .await,
    )
    .await;
    assert_eq!(queue["total"], 0);

    // Thirty days on, the door opens again.
    app.config
        .program_clock
        .advance(chrono::Duration::days(30) + chrono::Duration::minutes(1));
    let again = app.apply(&user.access_token).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(body(again).await["status"], "pending");
}

#[tokio::test]
async fn admin_queue_lists_pending_applications_oldest_first_with_pagination() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let user = app.create_account().await;
        ids.push(body(app.apply(&user.access_token).await).await["id"].clone());
    }
    let first = body(
        app.get_with_token(
            "/api/v1/admin/influencer-applications?status=pending&per_page=2&page=1",
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(first["total"], 3);
    assert_eq!(first["items"][0]["id"], ids[0]);
    assert_eq!(first["items"][1]["id"], ids[1]);
    let second = body(
        app.get_with_token(
            "/api/v1/admin/influencer-applications?status=pending&per_page=2&page=2",
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(second["items"][0]["id"], ids[2]);
    let user = app.create_account().await;
    let forbidden = app
        .get_with_token("/api/v1/admin/influencer-applications", &user.access_token)
        .await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    let bad = app
        .get_with_token(
            "/api/v1/admin/influencer-applications?status=maybe",
            &admin.access_token,
        )
        .await;
    assert_invalid(bad).await;
}

#[tokio::test]
async fn influencers_claim_vanity_codes_unique_ignoring_case_and_deactivate_them() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (ada, generated) = app.create_influencer(&admin.access_token).await;
    let (bob, _) = app.create_influencer(&admin.access_token).await;

    let claimed = app.claim_code(&ada.access_token, "Ada_Codes").await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let codes = body(claimed).await["codes"].clone();
    assert_eq!(codes, json!([generated, "Ada_Codes"]));

    for taken in ["ADA_CODES", generated.to_lowercase().as_str()] {
        let response = app.claim_code(&bob.access_token, taken).await;
        assert_problem(response, StatusCode::CONFLICT, "code_taken").await;
    }
    let reserved = app.claim_code(&bob.access_token, "admin").await;
    assert_invalid(reserved).await;

    let deleted = app.deactivate_code(&ada.access_token, "ada_codes").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let again = app.deactivate_code(&ada.access_token, "ada_codes").await;
    assert_problem(again, StatusCode::NOT_FOUND, "not_found").await;
    // Deactivated codes stay claimed: nobody else can pick them up.
    let reuse = app.claim_code(&bob.access_token, "Ada_Codes").await;
    assert_problem(reuse, StatusCode::CONFLICT, "code_taken").await;

    let plain = app.create_account().await;
    let forbidden = app.claim_code(&plain.access_token, "plain_code").await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn admins_suspend_reinstate_and_set_the_commission_rate() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (ada, _) = app.create_influencer(&admin.access_token).await;
    let base = format!("/api/v1/admin/influencers/{}", ada.id);

    let suspended = app
        .admin_post(
            &format!("{base}/suspend"),
            &admin.access_token,
            Some(json!({"reason": "spam"})),
        )
        .await;
    assert_eq!(suspended.status(), StatusCode::OK);
    assert_eq!(body(suspended).await["status"], "suspended");
    let claim = app.claim_code(&ada.access_token, "while_suspended").await;
    assert_problem(claim, StatusCode::CONFLICT, "influencer_suspended").await;

    let reinstated = app
        .admin_post(&format!("{base}/reinstate"), &admin.access_token, None)
        .await;
    assert_eq!(reinstated.status(), StatusCode::OK);
    assert_eq!(body(reinstated).await["status"], "active");

    let rate = app
        .send(
            Method::PUT,
            &format!("{base}/commission"),
            &admin.access_token,
            Some(json!({"rate_bps": 1500})),
        )
        .await;
    assert_eq!(rate.status(), StatusCode::OK);
    assert_eq!(body(rate).await["commission_rate_bps"], 1500);
    let too_high = app
        .send(
            Method::PUT,
            &format!("{base}/commission"),
            &admin.access_token,
            Some(json!({"rate_bps": 20000})),
        )
        .await;
    assert_invalid(too_high).await;

    let stranger = uuid::Uuid::new_v4();
    let unknown = app
        .admin_post(
            &format!("/api/v1/admin/influencers/{stranger}/reinstate"),
            &admin.access_token,
            None,
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

impl TestApp {
    pub(crate) async fn register_with_code(&self, code: &str) -> (Response, String) {
        let username = unique_name();
        let email = format!("{username}@example.com");
        let response = self
            .post(
                "/api/v1/auth/register",
                json!({"username": username, "email": email, "password": PASSWORD, "referral_code": code}),
            )
            .await;
        (response, email)
    }

    pub(crate) async fn claims_of(&self, email: &str) -> i64 {
        on_db!(&self.db, pool => {
        sqlx::query_scalar("SELECT count(*) FROM unique_claims WHERE value = $1")
                    .bind(email)
                    .fetch_one(pool)
        .await
        })
        .unwrap()
    }
}

#[tokio::test]
async fn signups_through_a_code_are_attributed_and_their_verification_counted() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (ada, code) = app.create_influencer(&admin.access_token).await;

    let (response, email) = app.register_with_code(&code.to_lowercase()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let user_id = body(response).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.count_events("identity.referral.SignupAttributed", &user_id)
            .await,
        1
    );
    let attributed: Value = on_db!(&app.db, pool => {
    sqlx::query_scalar(
            "SELECT payload FROM events WHERE aggregate_type = 'referral' AND aggregate_id = $1",
        )
        .bind(&user_id)
        .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(
        attributed["SignupAttributed"]["influencer_id"],
        ada.id.as_str()
    );
    assert_eq!(attributed["SignupAttributed"]["code"], code.as_str());

    let verification = app.code_for(&email).await;
    assert_eq!(
        app.verify_email(&email, &verification).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.count_events("identity.referral.VerifiedSignupRecorded", &user_id)
            .await,
        1
    );

    // Without a code nothing is attributed, and verification still works.
    let plain = app.create_account().await;
    assert_eq!(
        app.count_events("identity.referral.SignupAttributed", &plain.id)
            .await,
        0
    );
}

#[tokio::test]
async fn signups_with_unknown_deactivated_or_suspended_codes_are_refused_and_create_nothing() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let (ada, code) = app.create_influencer(&admin.access_token).await;
    let claimed = app.claim_code(&ada.access_token, "ada-retired").await;
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let deleted = app.deactivate_code(&ada.access_token, "ada-retired").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    for bad in ["NOSUCHCD", "ada-retired", "x!"] {
        let (response, email) = app.register_with_code(bad).await;
        assert_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_referral_code",
        )
        .await;
        assert_eq!(app.claims_of(&email).await, 0, "{bad}");
    }

    let base = format!("/api/v1/admin/influencers/{}", ada.id);
    let suspend = app
        .admin_post(
            &format!("{base}/suspend"),
            &admin.access_token,
            Some(json!({"reason": "spam"})),
        )
        .await;
    assert_eq!(suspend.status(), StatusCode::OK);
    let (response, email) = app.register_with_code(&code).await;
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_referral_code",
    )
    .await;
    assert_eq!(app.claims_of(&email).await, 0);

    let reinstate = app
        .admin_post(&format!("{base}/reinstate"), &admin.access_token, None)
        .await;
    assert_eq!(reinstate.status(), StatusCode::OK);
    let (response, _) = app.register_with_code(&code).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
