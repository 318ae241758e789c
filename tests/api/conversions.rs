//! The influencer program, money side: conversions, refunds, payouts,
//! the dashboards and the admins' influencer list.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;

/// A sale `days_ago` days before now. A repeat of a sale must reuse the
/// value (the next call names a later instant).
fn sale(external_id: &str, user_id: &str, amount_minor: i64, days_ago: i64) -> Value {
    let occurred_at = chrono::Utc::now() - chrono::Duration::days(days_ago);
    json!({
        "external_id": external_id,
        "user_id": user_id,
        "amount_minor": amount_minor,
        "currency": "usd",
        "occurred_at": occurred_at.to_rfc3339(),
    })
}

/// An app with an admin, a `service` account, and influencer Ada with one
/// buyer who signed up through her code.
struct Program {
    app: TestApp,
    admin: Account,
    service: Account,
    ada: Account,
    buyer: String,
}

async fn program() -> Program {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let service = app.create_account_with_role("service").await;
    let (ada, buyer) = app.influencer_with_referred_user(&admin.access_token).await;
    Program {
        app,
        admin,
        service,
        ada,
        buyer,
    }
}

impl TestApp {
    /// An influencer and a user who signed up through their code.
    async fn influencer_with_referred_user(&self, admin: &str) -> (Account, String) {
        let (influencer, code) = self.create_influencer(admin).await;
        let (response, _) = self.register_with_code(&code).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let buyer = body(response).await["id"].as_str().unwrap().to_owned();
        (influencer, buyer)
    }

    /// The `service` account with `token` reports `sale`.
    async fn record(&self, token: &str, sale: Value) -> Response {
        self.admin_post("/api/v1/referrals/conversions", token, Some(sale))
            .await
    }

    /// Reports every sale at once; the answers' statuses in order.
    async fn record_at_once(&self, service: &str, sales: Vec<Value>) -> Vec<StatusCode> {
        let requests = sales.into_iter().map(|sale| self.record(service, sale));
        futures_util::future::join_all(requests)
            .await
            .iter()
            .map(|r| r.status())
            .collect()
    }

    async fn accrued_total(&self, influencer_id: &str) -> (i64, i64) {
        on_db!(&self.db, pool => {
sqlx::query_as(
            "SELECT count(*),
                    CAST(COALESCE(sum(CAST(payload->'EarningsAccrued'->>'commission_minor' AS BIGINT)), 0) AS BIGINT)
               FROM events WHERE aggregate_type = 'ledger' AND aggregate_id = $1
                AND event_type = 'identity.ledger.EarningsAccrued'",
        )
        .bind(influencer_id)
        .fetch_one(pool)
.await
})
        .unwrap()
    }
}

#[tokio::test]
async fn the_whole_story_from_application_to_payout_adds_up_on_the_dashboard() {
    let app = spawn_app().await;
    let admin = app.create_account_with_role("admin").await;
    let service = app.create_account_with_role("service").await;
    // Apply and approve, then a signup through the code, verified.
    let (ada, code) = app.create_influencer(&admin.access_token).await;
    let (registered, email) = app.register_with_code(&code).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let buyer = body(registered).await["id"].as_str().unwrap().to_owned();
    let verification = app.code_for(&email).await;
    assert_eq!(
        app.verify_email(&email, &verification).await.status(),
        StatusCode::OK
    );
    let record = |sale: Value| app.record(&service.access_token, sale);
    let payout = |amount_minor: i64, reference: &'static str| {
        let token = admin.access_token.clone();
        let path = format!("/api/v1/admin/influencers/{}/payouts", ada.id);
        let app = &app;
        async move {
            let body =
                json!({"amount_minor": amount_minor, "currency": "USD", "reference": reference});
            app.admin_post(&path, &token, Some(body)).await
        }
    };
    let balances = || async {
        body(
            app.get_with_token("/api/v1/influencer/me", &ada.access_token)
                .await,
        )
        .await["balances"]["USD"]
            .clone()
    };

    // Three conversions today; the first reported twice.
    let ord_1 = sale("ord-1", &buyer, 10_000, 0);
    let first = record(ord_1.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = body(first).await;
    assert_eq!(first["commission_minor"], 1000);
    assert_eq!(first["influencer_id"], ada.id.as_str());
    assert_eq!(first["status"], "recorded");
    let repeat = record(ord_1.clone()).await;
    assert_eq!(repeat.status(), StatusCode::CREATED);
    assert_eq!(body(repeat).await, first);
    let mut other_sale = ord_1;
    other_sale["amount_minor"] = json!(999);
    let reused = record(other_sale).await;
    assert_problem(reused, StatusCode::CONFLICT, "external_id_reused").await;
    assert_eq!(
        body(record(sale("ord-2", &buyer, 5_001, 0)).await).await["commission_minor"],
        500
    );
    assert_eq!(
        body(record(sale("ord-3", &buyer, 2_000, 0)).await).await["commission_minor"],
        200
    );
    // Not referred: recorded, earns nothing.
    let stranger = uuid::Uuid::new_v4().to_string();
    let unreferred = body(record(sale("ord-4", &stranger, 2_000, 0)).await).await;
    assert_eq!(unreferred["commission_minor"], 0);
    assert!(unreferred["influencer_id"].is_null());

    // Everything is on its 30-day hold: nothing can be paid yet.
    assert_eq!(
        balances().await,
        json!({"pending": 1700, "available": 0, "paid": 0})
    );
    assert_problem(
        payout(1, "po-0").await,
        StatusCode::CONFLICT,
        "payout_exceeds_available",
    )
    .await;

    // The hold expires: the program's clock moves 31 days on.
    app.config.program_clock.advance(chrono::Duration::days(31));
    assert_eq!(
        balances().await,
        json!({"pending": 0, "available": 1700, "paid": 0})
    );
    // A refund after release takes the commission back from available;
    // refunding again changes nothing.
    for _ in 0..2 {
        let refunded = app
            .admin_post(
                "/api/v1/referrals/conversions/ord-2/refund",
                &service.access_token,
                None,
            )
            .await;
        assert_eq!(refunded.status(), StatusCode::OK);
        assert_eq!(body(refunded).await["status"], "refunded");
    }
    assert_eq!(app.accrued_total(&ada.id).await, (3, 1000 + 500 + 200));
    assert_eq!(
        app.count_events("identity.ledger.EarningsReversed", &ada.id)
            .await,
        1
    );

    assert_problem(
        payout(1201, "po-1").await,
        StatusCode::CONFLICT,
        "payout_exceeds_available",
    )
    .await;
    let paid = payout(1000, "po-1").await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    assert_eq!(
        body(paid).await["balances"]["USD"],
        json!({"pending": 0, "available": 200, "paid": 1000})
    );

    // The dashboard, by hand: ord-1 (1000) and ord-3 (200) count, the
    // refunded ord-2 does not; one verified signup, who converted.
    let me = body(
        app.get_with_token("/api/v1/influencer/me", &ada.access_token)
            .await,
    )
    .await;
    assert_eq!(me["codes"].as_array().unwrap().len(), 1, "{me}");
    let code = &me["codes"][0];
    assert_eq!(code["signups"], 1);
    assert_eq!(code["verified_signups"], 1);
    assert_eq!(code["conversions"], 2);
    assert_eq!(code["conversion_rate"], 1.0);
    assert_eq!(code["earnings"], json!({"USD": 1200}));
    assert_eq!(
        me["balances"]["USD"],
        json!({"pending": 0, "available": 200, "paid": 1000})
    );
    // The series ends on the program's today, 31 days after the sales.
    let daily = me["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 90);
    let today = app.config.program_clock.now().date_naive();
    assert_eq!(daily[89]["day"], today.to_string());
    assert_eq!(daily[89 - 31]["conversions"], 2);
    assert_eq!(daily[89 - 31]["earnings"], json!({"USD": 1200}));
    let referrals = body(
        app.get_with_token("/api/v1/influencer/me/referrals", &ada.access_token)
            .await,
    )
    .await;
    assert_eq!(referrals["total"], 1);
    let referred = &referrals["items"][0];
    assert!(referred["email"]
        .as_str()
        .unwrap()
        .contains("***@example.com"));
    assert_eq!(referred["verified"], true);
    assert_eq!(referred["converted"], true);
    // Rebuilt from zero, the same figures.
    identity::cli::rebuild(app.db.clone(), "influencer_dashboard")
        .await
        .unwrap();
    let rebuilt = body(
        app.get_with_token("/api/v1/influencer/me", &ada.access_token)
            .await,
    )
    .await;
    assert_eq!(rebuilt, me);

    let plain = app.create_account().await;
    let forbidden = app
        .record(&plain.access_token, sale("ord-5", &buyer, 1, 0))
        .await;
    assert_problem(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
    let unknown = app
        .admin_post(
            "/api/v1/referrals/conversions/nope/refund",
            &service.access_token,
            None,
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_repeated_payout_is_recorded_once_and_a_reused_reference_is_refused() {
    let Program {
        app,
        admin,
        service,
        ada,
        buyer,
    } = program().await;
    let (bob, bob_buyer) = app.influencer_with_referred_user(&admin.access_token).await;
    // Recorded, then past their hold: available.
    for (external_id, buyer) in [("ord-p", &buyer), ("ord-q", &bob_buyer)] {
        let recorded = app
            .record(&service.access_token, sale(external_id, buyer, 10_000, 0))
            .await;
        assert_eq!(recorded.status(), StatusCode::CREATED);
    }
    app.config.program_clock.advance(chrono::Duration::days(31));
    let payout = |influencer: &str, amount_minor: i64, reference: &str| {
        let path = format!("/api/v1/admin/influencers/{influencer}/payouts");
        let body = json!({"amount_minor": amount_minor, "currency": "USD", "reference": reference});
        let token = admin.access_token.clone();
        let app = &app;
        async move { app.admin_post(&path, &token, Some(body)).await }
    };

    // The admin tool retries after a lost answer, twice at once.
    let (first, again) = tokio::join!(payout(&ada.id, 300, "tr-1"), payout(&ada.id, 300, "tr-1"));
    let expected = json!({"pending": 0, "available": 700, "paid": 300});
    for answer in [first, again] {
        assert_eq!(answer.status(), StatusCode::CREATED);
        assert_eq!(body(answer).await["balances"]["USD"], expected);
    }
    assert_eq!(
        app.count_events("identity.ledger.PayoutRecorded", &ada.id)
            .await,
        1
    );
    // The same reference for another amount, or on another ledger: refused.
    assert_problem(
        payout(&ada.id, 200, "tr-1").await,
        StatusCode::CONFLICT,
        "payout_reference_reused",
    )
    .await;
    assert_problem(
        payout(&bob.id, 300, "tr-1").await,
        StatusCode::CONFLICT,
        "payout_reference_reused",
    )
    .await;
    let long = "r".repeat(256);
    let problem = assert_invalid(payout(&ada.id, 1, &long).await).await;
    assert_eq!(problem["errors"][0]["field"], "reference", "{problem}");
    let next = payout(&ada.id, 200, "tr-2").await;
    assert_eq!(
        body(next).await["balances"]["USD"],
        json!({"pending": 0, "available": 500, "paid": 500})
    );
}

#[tokio::test]
async fn a_conversion_recorded_before_a_crash_is_accrued_when_the_sale_is_reported_again() {
    let Program {
        app,
        admin: _,
        service,
        ada,
        buyer,
    } = program().await;
    let report = sale("ord-c", &buyer, 10_000, 0);
    // What a crash between recording and accruing leaves behind: the
    // conversion's stream written, the ledger untouched.
    let referrals: identity::store::Repository<aggregates::Referral> =
        identity::store::Repository::new(app.db.clone(), Default::default());
    let conversions: identity::store::Repository<aggregates::Conversion> =
        identity::store::Repository::new(app.db.clone(), Default::default());
    let (referral, _) = referrals.load(&buyer).await.unwrap();
    let external_id = report["external_id"].as_str().unwrap().to_owned();
    conversions
        .execute(
            &external_id,
            aggregates::ConversionCommand::RecordConversion {
                external_id: external_id.clone(),
                user_id: buyer.parse().unwrap(),
                amount_minor: 10_000,
                currency: aggregates::values::Currency::parse("USD").unwrap(),
                occurred_at: report["occurred_at"].as_str().unwrap().parse().unwrap(),
                attribution: referral.attribution,
                influencer_active: true,
                rate_bps: Default::default(),
                window: chrono::Duration::days(365),
                hold: chrono::Duration::days(30),
                at: app.config.program_clock.now(),
            },
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(app.accrued_total(&ada.id).await, (0, 0));

    // The reporting service retries, as it must without an answer.
    let retried = app.record(&service.access_token, report).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert_eq!(body(retried).await["commission_minor"], 1000);
    assert_eq!(app.accrued_total(&ada.id).await, (1, 1000));
}

#[tokio::test]
async fn suspended_influencers_earn_nothing_on_new_conversions() {
    let Program {
        app,
        admin,
        service,
        ada,
        buyer,
    } = program().await;
    let suspend = app
        .admin_post(
            &format!("/api/v1/admin/influencers/{}/suspend", ada.id),
            &admin.access_token,
            Some(json!({"reason": "fraud check"})),
        )
        .await;
    assert_eq!(suspend.status(), StatusCode::OK);
    let recorded = app
        .record(&service.access_token, sale("ord-s", &buyer, 10_000, 0))
        .await;
    assert_eq!(recorded.status(), StatusCode::CREATED);
    let recorded = body(recorded).await;
    assert_eq!(recorded["commission_minor"], 0);
    assert_eq!(recorded["influencer_id"], ada.id.as_str());
    assert_eq!(app.accrued_total(&ada.id).await, (0, 0));
}

#[tokio::test]
async fn concurrent_conversions_all_accrue_and_concurrent_repeats_accrue_once() {
    let Program {
        app,
        admin: _,
        service,
        ada,
        buyer,
    } = program().await;
    let distinct = (0..20)
        .map(|i| sale(&format!("c-{i}"), &buyer, 1_000 + i, 0))
        .collect();
    let statuses = app.record_at_once(&service.access_token, distinct).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    // 10% of 1000..=1019, rounded down: 100 each, plus 1 for 1010..=1019.
    assert_eq!(app.accrued_total(&ada.id).await, (20, 20 * 100 + 10));

    let repeat = json!({
        "external_id": "same",
        "user_id": buyer,
        "amount_minor": 5_000,
        "currency": "USD",
        "occurred_at": sale("same", &buyer, 1, 0)["occurred_at"],
    });
    let repeats = vec![repeat; 20];
    let statuses = app.record_at_once(&service.access_token, repeats).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(app.accrued_total(&ada.id).await, (21, 20 * 100 + 10 + 500));
}

#[tokio::test]
async fn a_burst_of_sixty_four_conversions_for_one_influencer_is_answered_without_retries() {
    let Program {
        app,
        admin: _,
        service,
        ada,
        buyer,
    } = program().await;
    let burst = (0..64)
        .map(|i| sale(&format!("burst-{i}"), &buyer, 2_000, 0))
        .collect();
    let statuses = app.record_at_once(&service.access_token, burst).await;
    // Not one `503 retry`: the writers of the influencer's ledger take
    // turns instead of racing each other into the retry limit.
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    assert_eq!(app.accrued_total(&ada.id).await, (64, 64 * 200));
}

#[tokio::test]
async fn admins_list_influencers_with_their_figures_sorted_and_filtered() {
    let Program {
        app,
        admin,
        service,
        ada,
        buyer,
    } = program().await;
    let (bob, bob_code) = app.create_influencer(&admin.access_token).await;
    for _ in 0..2 {
        let (response, _) = app.register_with_code(&bob_code).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let recorded = app
        .record(&service.access_token, sale("big", &buyer, 50_000, 0))
        .await;
    assert_eq!(recorded.status(), StatusCode::CREATED);
    let list = |query: &'static str| {
        let token = admin.access_token.clone();
        let app = &app;
        async move {
            body(
                app.get_with_token(&format!("/api/v1/admin/influencers{query}"), &token)
                    .await,
            )
            .await
        }
    };
    let by_earnings = list("?sort=earnings").await;
    assert_eq!(by_earnings["total"], 2);
    assert_eq!(by_earnings["items"][0]["influencer_id"], ada.id.as_str());
    assert_eq!(by_earnings["items"][0]["earnings"], json!({"USD": 5000}));
    let by_signups = list("?sort=signups").await;
    assert_eq!(by_signups["items"][0]["influencer_id"], bob.id.as_str());
    assert_eq!(by_signups["items"][0]["signups"], 2);

    let suspend = app
        .admin_post(
            &format!("/api/v1/admin/influencers/{}/suspend", bob.id),
            &admin.access_token,
            Some(json!({"reason": "paused"})),
        )
        .await;
    assert_eq!(suspend.status(), StatusCode::OK);
    let suspended = list("?status=suspended").await;
    assert_eq!(suspended["total"], 1);
    assert_eq!(suspended["items"][0]["influencer_id"], bob.id.as_str());
    let by_code = app
        .get_with_token(
            &format!(
                "/api/v1/admin/influencers?query={}",
                bob_code.to_lowercase()
            ),
            &admin.access_token,
        )
        .await;
    assert_eq!(
        body(by_code).await["items"][0]["influencer_id"],
        bob.id.as_str()
    );
    let one = body(
        app.get_with_token(
            &format!("/api/v1/admin/influencers/{}", ada.id),
            &admin.access_token,
        )
        .await,
    )
    .await;
    assert_eq!(one["display_name"], "Ada Codes");
    assert_eq!(one["conversions"], 1);
    assert_eq!(one["commission_rate_bps"], 1000);

    let overview = body(
        app.get_with_token("/api/v1/admin/influencer-program", &admin.access_token)
            .await,
    )
    .await;
    assert_eq!(overview["influencers_active"], 1);
    assert_eq!(overview["influencers_suspended"], 1);
    assert_eq!(overview["signups"], 3);
    assert_eq!(overview["conversions"], 1);
    assert_eq!(
        overview["balances"]["USD"],
        json!({"pending": 5000, "available": 0, "paid": 0})
    );
    assert_eq!(overview["top"][0]["influencer_id"], ada.id.as_str());
}

#[tokio::test]
async fn openapi_documents_the_program_endpoints() {
    let app = spawn_app().await;
    app.assert_documented(&[
        ("/api/v1/influencer/applications", "post"),
        ("/api/v1/influencer/applications/mine", "get"),
        ("/api/v1/influencer/codes", "post"),
        ("/api/v1/influencer/codes/{code}", "delete"),
        ("/api/v1/influencer/me", "get"),
        ("/api/v1/influencer/me/referrals", "get"),
        ("/api/v1/admin/influencer-applications", "get"),
        ("/api/v1/admin/influencer-applications/{id}/approve", "post"),
        ("/api/v1/admin/influencer-applications/{id}/reject", "post"),
        ("/api/v1/admin/influencers", "get"),
        ("/api/v1/admin/influencer-program", "get"),
        ("/api/v1/admin/influencers/{id}", "get"),
        ("/api/v1/admin/influencers/{id}/suspend", "post"),
        ("/api/v1/admin/influencers/{id}/reinstate", "post"),
        ("/api/v1/admin/influencers/{id}/commission", "put"),
        ("/api/v1/admin/influencers/{id}/payouts", "post"),
        ("/api/v1/referrals/conversions", "post"),
        ("/api/v1/referrals/conversions/{external_id}/refund", "post"),
    ])
    .await;
}

/// Defect 1 of the hardening report: two sales of `i64::MAX` at a 100%
/// rate were accepted and then overflowed the dashboard's sums, stopping
/// every read model. Amounts are now bounded at the edge.
#[tokio::test]
async fn a_sale_above_what_money_can_be_is_refused_and_every_read_model_goes_on() {
    let Program {
        app,
        admin,
        service,
        ada,
        buyer,
    } = program().await;
    let rate = app
        .client
        .put(app.url(&format!("/api/v1/admin/influencers/{}/commission", ada.id)))
        .bearer_auth(&admin.access_token)
        .json(&json!({"rate_bps": 10_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(rate.status(), StatusCode::OK);
    for (i, amount_minor) in [i64::MAX, i64::MAX, 1_000_000_000_001]
        .into_iter()
        .enumerate()
    {
        let huge = sale(&format!("huge-{i}"), &buyer, amount_minor, 0);
        let problem = assert_invalid(app.record(&service.access_token, huge).await).await;
        assert_eq!(problem["errors"][0]["field"], "amount_minor", "{problem}");
    }
    let largest = sale("largest", &buyer, 1_000_000_000_000, 0);
    let recorded = app.record(&service.access_token, largest).await;
    assert_eq!(recorded.status(), StatusCode::CREATED);
    let dashboard = app
        .get_with_token("/api/v1/influencer/me", &ada.access_token)
        .await;
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_eq!(
        body(dashboard).await["balances"]["USD"]["pending"],
        1_000_000_000_000i64
    );
    let stalled: i64 = on_db!(&app.db, pool => {
    sqlx::query_scalar("SELECT count(*) FROM projection_failures")
            .fetch_one(pool)
    .await
    })
    .unwrap();
    assert_eq!(stalled, 0);
}

/// Defect 4: a far-future date panicked the handler (500), and a sale
/// backdated before the buyer's signup earned at once, skipping the hold.
#[tokio::test]
async fn sales_dated_out_of_range_are_refused_and_no_date_shortens_the_hold() {
    let Program {
        app,
        service,
        ada,
        buyer,
        ..
    } = program().await;
    let dated = |external_id: &str, occurred_at: &str| {
        let mut sale = sale(external_id, &buyer, 10_000, 0);
        sale["occurred_at"] = json!(occurred_at);
        sale
    };
    let far_future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for (i, occurred_at) in [
        "+262142-12-31T23:59:59Z",
        "-262143-01-01T00:00:00Z",
        "2000-01-01T00:00:00Z",
        far_future.as_str(),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = app
            .record(&service.access_token, dated(&format!("d-{i}"), occurred_at))
            .await;
        assert_ne!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let problem = assert_invalid(answer).await;
        assert_eq!(problem["errors"][0]["field"], "occurred_at", "{problem}");
    }
    // A sale dated just before the report: pending for the whole hold,
    // counted from when it was reported.
    let recorded = body(
        app.record(&service.access_token, sale("recent", &buyer, 10_000, 0))
            .await,
    )
    .await;
    let release_at: chrono::DateTime<chrono::Utc> =
        recorded["release_at"].as_str().unwrap().parse().unwrap();
    assert!(release_at > chrono::Utc::now() + chrono::Duration::days(29));
    let dashboard = body(
        app.get_with_token("/api/v1/influencer/me", &ada.access_token)
            .await,
    )
    .await;
    assert_eq!(dashboard["balances"]["USD"]["available"], 0);
}

/// Moves the program's clock to `at` (forward only).
fn move_program_to(app: &TestApp, at: chrono::DateTime<chrono::Utc>) {
    let clock = &app.config.program_clock;
    let by = at - clock.now();
    assert!(
        by > chrono::Duration::zero(),
        "the clock only moves forward"
    );
    clock.advance(by);
}

/// Ada's balances as the dashboard, the program overview and the `Ledger`
/// aggregate (as of the program's now) give them: `[pending, available,
/// paid]` in USD.
async fn three_views(p: &Program) -> [[i64; 3]; 3] {
    let figures = |v: &Value| ["pending", "available", "paid"].map(|k| v[k].as_i64().unwrap_or(0));
    let me = body(
        p.app
            .get_with_token("/api/v1/influencer/me", &p.ada.access_token)
            .await,
    )
    .await;
    let overview = body(
        p.app
            .get_with_token("/api/v1/admin/influencer-program", &p.admin.access_token)
            .await,
    )
    .await;
    let ledgers: identity::store::Repository<aggregates::Ledger> =
        identity::store::Repository::new(p.app.db.clone(), Default::default());
    let (ledger, _) = ledgers.load(&p.ada.id).await.unwrap();
    let usd = aggregates::values::Currency::parse("USD").unwrap();
    let balance = ledger
        .balances(p.app.config.program_clock.now())
        .remove(&usd)
        .unwrap_or_default();
    [
        figures(&me["balances"]["USD"]),
        figures(&overview["balances"]["USD"]),
        [balance.pending, balance.available, balance.paid],
    ]
}

/// The ledger holds `expected`, and the dashboard and overview say the same.
async fn assert_all_agree(p: &Program, when: &str, expected: [i64; 3]) {
    let [me, overview, ledger] = three_views(p).await;
    assert_eq!(ledger, expected, "{when}: the ledger");
    assert_eq!(me, ledger, "{when}: the dashboard");
    assert_eq!(overview, ledger, "{when}: the overview");
}

#[tokio::test]
async fn the_dashboard_and_the_ledger_agree_on_when_earnings_become_available() {
    let p = program().await;
    let service = p.service.access_token.clone();
    // Two sales reported a minute before and a minute after midnight (UTC)
    // of the same night: their holds end on two different days.
    let day = p.app.config.program_clock.now().date_naive() + chrono::Days::new(1);
    let at = |day: chrono::NaiveDate, h: u32, m: u32| day.and_hms_opt(h, m, 0).unwrap().and_utc();
    let report = |id: &'static str, amount: i64| {
        let mut sale = sale(id, &p.buyer, amount, 0);
        let now = p.app.config.program_clock.now() - chrono::Duration::seconds(1);
        sale["occurred_at"] = json!(now.to_rfc3339());
        p.app.record(&service, sale)
    };
    move_program_to(&p.app, at(day, 23, 59));
    assert_eq!(report("late", 10_000).await.status(), StatusCode::CREATED);
    move_program_to(&p.app, at(day + chrono::Days::new(1), 0, 1));
    assert_eq!(report("early", 20_000).await.status(), StatusCode::CREATED);
    // An earning is released on the first whole UTC day after its 30-day
    // hold: the late sale's hold ends at 23:59 (released the next day), the
    // early one's at 00:01 (released a day later still).
    let after = |days: u64| day + chrono::Days::new(days);
    let checks = [
        (
            "as the first hold ends",
            at(after(30), 23, 59),
            [3_000, 0, 0],
        ),
        (
            "on the first release day",
            at(after(31), 0, 0),
            [2_000, 1_000, 0],
        ),
        (
            "as the second hold ends",
            at(after(31), 0, 1),
            [2_000, 1_000, 0],
        ),
        (
            "on the second release day",
            at(after(32), 0, 0),
            [0, 3_000, 0],
        ),
    ];
    for (when, instant, expected) in checks {
        move_program_to(&p.app, instant);
        assert_all_agree(&p, when, expected).await;
    }
    // A refund takes the released commission back; a payout moves some to paid.
    let refund = "/api/v1/referrals/conversions/early/refund";
    assert_eq!(
        p.app.admin_post(refund, &service, None).await.status(),
        StatusCode::OK
    );
    let path = format!("/api/v1/admin/influencers/{}/payouts", p.ada.id);
    let payout = json!({"amount_minor": 400, "currency": "USD", "reference": "po-edge"});
    let paid = p
        .app
        .admin_post(&path, &p.admin.access_token, Some(payout))
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    assert_all_agree(&p, "after a refund and a payout", [0, 600, 400]).await;
}
