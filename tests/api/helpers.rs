//! The test harness: one fresh database, one SMTP sink and one server on a
//! random port per test, and a `TestApp` with one method per endpoint.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::smtp::Codes as _;
use identity::config::Config;
use identity::ratelimit::{Limit, RateLimits};
use identity::startup::Application;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;

/// Runs one sqlx expression on the test's database, whichever backend it
/// is, for statements both dialects read alike.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            identity::store::Database::Postgres($pool) => $body,
            identity::store::Database::Sqlite($pool) => $body,
        }
    };
}
pub(crate) use on_db;

pub use crate::smtp::SmtpSink;

pub const PASSWORD: &str = "Correct-Horse-9!";

/// PostgreSQL for the tests, `host:port` (user `postgres`, trust auth):
/// `IDENTITY_TEST_POSTGRES`, by default 127.0.0.1:5432, so the tests can
/// run beside another PostgreSQL.
pub fn postgres_addr() -> String {
    std::env::var("IDENTITY_TEST_POSTGRES").unwrap_or_else(|_| "127.0.0.1:5432".to_owned())
}

/// NATS with JetStream for the tests: `IDENTITY_TEST_NATS_URL`, by default
/// nats://127.0.0.1:4222.
pub fn nats_url() -> String {
    std::env::var("IDENTITY_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

/// Everything logged by any test in this binary (JSON lines), so tests can
/// check that no secret was ever logged. Printed too when `TEST_LOG` is set.
pub fn captured_logs() -> String {
    let logs = log_buffer();
    let bytes = logs.lock().unwrap_or_else(|p| p.into_inner());
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Whether `secret` appears in the captured logs. Every test of the binary
/// logs into one buffer, so a short numeric secret (a six-digit code) could
/// turn up by chance inside a longer number, a line's own timestamp, or the
/// hex of an id or a hash (one SQLite CI run found a code inside one);
/// those are not leaks. A digit-only secret therefore counts only as a
/// whole word (no letter or digit on either side), and each line's
/// `timestamp` is left out.
pub fn logs_contain(secret: &str) -> bool {
    let numeric = secret.bytes().all(|b| b.is_ascii_digit());
    captured_logs().lines().any(|line| {
        let line = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut fields)) => {
                fields.remove("timestamp");
                Value::Object(fields).to_string()
            }
            _ => line.to_owned(),
        };
        line.match_indices(secret).any(|(at, _)| {
            let bytes = line.as_bytes();
            let word = |i: Option<usize>| {
                i.and_then(|i| bytes.get(i))
                    .is_some_and(u8::is_ascii_alphanumeric)
            };
            !numeric || !(word(at.checked_sub(1)) || word(Some(at + secret.len())))
        })
    })
}

fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = Capture(buffer.clone());
        identity::telemetry::init(identity::telemetry::subscriber(
            "debug,sqlx=warn,hyper=info,h2=info,rustls=info,lettre=info",
            sink,
            None,
        ));
        buffer
    })
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stdout().write_all(buf)?;
        }
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The storage backend this run of the suite uses:
/// `IDENTITY_TEST_BACKEND=postgres` (the default) or `sqlite`. CI runs the
/// suite once per backend.
pub fn on_sqlite() -> bool {
    match std::env::var("IDENTITY_TEST_BACKEND").as_deref() {
        Err(_) | Ok("postgres") => false,
        Ok("sqlite") => true,
        Ok(other) => panic!("IDENTITY_TEST_BACKEND={other}: postgres or sqlite"),
    }
}

/// A new, empty database of this run's backend for one test: a file in
/// `data_dir` on SQLite; its URL.
pub async fn new_database_url(data_dir: &std::path::Path) -> String {
    match on_sqlite() {
        true => format!("sqlite://{}", data_dir.join("identity.db").display()),
        false => create_database().await.1,
    }
}

/// The storage seam on the database at `url` (as the service opens it).
pub async fn open_database(url: &str) -> identity::store::Database {
    match url.strip_prefix("sqlite://") {
        Some(path) => identity::store::Database::open_sqlite(
            std::path::Path::new(path),
            4,
            Duration::from_secs(5),
        )
        .await
        .expect("open the test database"),
        None => identity::store::Database::from(PgPool::connect(url).await.expect("connect")),
    }
}

/// A new, empty database for one test.
pub async fn create_database() -> (String, String) {
    let name = format!("identity_test_{}", Uuid::new_v4().simple());
    let addr = postgres_addr();
    let mut admin = PgConnection::connect(&format!("postgres://postgres@{addr}/postgres"))
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL must be running on {addr} (see README): {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create test database");
    (
        name.clone(),
        format!("postgres://postgres@{addr}/{name}?sslmode=disable"),
    )
}

/// A configuration for a test server: its own database, SMTP sink and port.
pub fn test_config(database_url: &str, smtp_port: u16, data_dir: &std::path::Path) -> Config {
    let mut config = Config {
        database_url: database_url.to_owned(),
        // PostgreSQL: room for the tests' bursts; SQLite: its own default.
        db_max_connections: (!on_sqlite()).then_some(30),
        listen_addr: "127.0.0.1:0".parse().expect("valid address"),
        metrics_addr: "127.0.0.1:0".parse().expect("valid address"),
        data_dir: data_dir.to_path_buf(),
        secret_hex: Some(hex_secret()),
        // Tests send bursts from one IP; the rate-limit tests set their own.
        rate_limits: RateLimits {
            api_per_ip: Limit::new(100_000, 60),
            login_per_identifier: Limit::new(100_000, 60),
            register_per_ip: Limit::new(100_000, 60),
            email_codes_per_address: Limit::new(100_000, 60),
            sms_per_ip_and_account: Limit::new(100_000, 60),
        },
        ..Config::default()
    };
    config.smtp_enabled = true;
    config.smtp.port = smtp_port;
    config.smtp.timeout = Duration::from_secs(2);
    // Each test publishes to a stream and subjects of its own.
    config.relay_enabled = true;
    let tag = Uuid::new_v4().simple().to_string();
    config.relay.stream = format!("TEST_{tag}");
    config.relay.subject_prefix = format!("t{tag}");
    config.relay.max_age = Duration::from_secs(600);
    config
}

fn hex_secret() -> String {
    Uuid::new_v4().simple().to_string().repeat(2)
}

pub struct TestApp {
    pub address: String,
    /// Where `GET /metrics` is served.
    pub metrics_address: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    /// The same database behind the service's storage seam.
    pub db: identity::store::Database,
    pub smtp: SmtpSink,
    pub config: Config,
    _data_dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server whose configuration `tweak` may adjust first.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    log_buffer();
    crate::nats::delete_stale_test_streams().await;
    let smtp = SmtpSink::start().await.expect("SMTP sink");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let url = new_database_url(data_dir.path()).await;
    let mut config = test_config(&url, smtp.port(), data_dir.path());
    // The NATS relay runs on PostgreSQL only (the HTTP feed serves SQLite).
    config.relay_enabled = !on_sqlite();
    tweak(&mut config);
    let app = Application::build(config.clone())
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics_address = format!("http://127.0.0.1:{}", app.metrics_port());
    tokio::spawn(app.run_until_stopped());
    let db = open_database(&url).await;
    let pool = match &db {
        identity::store::Database::Postgres(pool) => pool.clone(),
        // No PostgreSQL here: a test that reads it directly fails loudly.
        identity::store::Database::Sqlite(_) => {
            PgPool::connect_lazy("postgres://no-postgres-on-the-sqlite-run@127.0.0.1:1/none")
                .expect("a lazy pool")
        }
    };
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("identity-tests")
            .build()
            .expect("http client"),
        db,
        pool,
        smtp,
        config,
        _data_dir: data_dir,
    }
}

/// A registered, verified account with a live session.
pub struct Account {
    pub id: String,
    pub username: String,
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
}

pub fn unique_name() -> String {
    format!("u{}", &Uuid::new_v4().simple().to_string()[..12])
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/register",
            json!({"username": username, "email": email, "password": password}),
        )
        .await
    }

    pub async fn verify_email(&self, email: &str, code: &str) -> Response {
        self.post(
            "/api/v1/auth/verify-email",
            json!({"email": email, "code": code}),
        )
        .await
    }

    pub async fn resend(&self, email: &str) -> Response {
        self.post("/api/v1/auth/verify-email/resend", json!({"email": email}))
            .await
    }

    pub async fn login(&self, identifier: &str, password: &str) -> Response {
        self.post(
            "/api/v1/auth/login",
            json!({"identifier": identifier, "password": password}),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub async fn logout(&self, refresh_token: &str) -> Response {
        self.post(
            "/api/v1/auth/logout",
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// Registers an account and leaves its email unverified; its email.
    pub async fn register_unverified(&self) -> String {
        let name = unique_name();
        let email = format!("{name}@example.com");
        assert_eq!(
            self.register(&name, &email, PASSWORD).await.status(),
            StatusCode::CREATED
        );
        email
    }

    /// `/health/ready`, which must answer 200; its body.
    pub async fn ready(&self) -> Value {
        let ready = self
            .client
            .get(self.url("/health/ready"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(ready.status(), StatusCode::OK);
        body(ready).await
    }

    pub async fn logout_all(&self, access_token: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/logout-all"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn me(&self, access_token: &str) -> Response {
        self.get_with_token("/api/v1/me", access_token).await
    }

    pub async fn sessions(&self, access_token: &str) -> Response {
        self.get_with_token("/api/v1/auth/sessions", access_token)
            .await
    }

    /// The published signing keys (`/.well-known/jwks.json`).
    pub async fn jwks(&self) -> Value {
        let response = self.client.get(self.url("/.well-known/jwks.json")).send();
        body(response.await.expect("request sent")).await
    }

    /// The latest code mailed to `email`.
    pub async fn code_for(&self, email: &str) -> String {
        self.smtp.wait_for_code(email).await
    }

    /// Registers and verifies a new account (which also logs it in).
    pub async fn create_account(&self) -> Account {
        let username = unique_name();
        let email = format!("{username}@example.com");
        let response = self.register(&username, &email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let id = response.json::<Value>().await.expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let code = self.code_for(&email).await;
        let response = self.verify_email(&email, &code).await;
        let status = response.status();
        let pair: Value = response.json().await.expect("json");
        assert_eq!(status, StatusCode::OK, "verification failed: {pair}");
        Account {
            id,
            username,
            access_token: pair["access_token"].as_str().expect("access").to_owned(),
            refresh_token: pair["refresh_token"].as_str().expect("refresh").to_owned(),
            session_id: pair["session_id"].as_str().expect("sid").to_owned(),
        }
    }

    /// Every row of every table, as text: for checking what is at rest.
    pub async fn dump_all_tables(&self) -> String {
        dump_all_tables(&self.db).await
    }
}

pub async fn dump_all_tables(db: &identity::store::Database) -> String {
    let list = match db {
        identity::store::Database::Postgres(_) => {
            "SELECT table_name::text FROM information_schema.tables
              WHERE table_schema = 'public' ORDER BY 1"
        }
        identity::store::Database::Sqlite(_) => {
            "SELECT name FROM sqlite_master
              WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    let tables: Vec<String> = on_db!(db, pool => {
        sqlx::query_scalar(list).fetch_all(pool).await
    })
    .expect("list tables");
    let mut dump = String::new();
    for table in tables {
        let rows = table_rows(db, &table, "1").await;
        dump.push_str(&format!("== {table}\n{rows}\n"));
    }
    dump
}

/// A table's rows in a stable order, as JSON (`null` when empty); on
/// SQLite, blobs (UUIDs, MACs) as hex.
pub async fn table_rows(db: &identity::store::Database, table: &str, order_by: &str) -> Value {
    let text: Option<String> = match db {
        identity::store::Database::Postgres(pool) => sqlx::query_scalar(&format!(
            "SELECT json_agg(t ORDER BY {order_by})::text FROM \"{table}\" t"
        ))
        .fetch_one(pool)
        .await
        .expect("read table"),
        identity::store::Database::Sqlite(pool) => {
            let columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(pool)
                    .await
                    .expect("list columns");
            let fields: Vec<String> = columns
                .iter()
                .map(|c| {
                    format!("'{c}', CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE \"{c}\" END")
                })
                .collect();
            sqlx::query_scalar(&format!(
                "SELECT CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array(json(r)) END FROM
                   (SELECT json_object({}) AS r FROM \"{table}\" t ORDER BY {order_by})",
                fields.join(", ")
            ))
            .fetch_one(pool)
            .await
            .expect("read table")
        }
    };
    text.map(|t| serde_json::from_str(&t).expect("json rows"))
        .unwrap_or(Value::Null)
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn eventually<T, F, Fut>(timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn body(response: Response) -> Value {
    response.json().await.expect("JSON body")
}

/// Asserts `response` is a problem with `status` and `code`; returns it.
impl TestApp {
    /// The service's OpenAPI document.
    pub async fn openapi(&self) -> Value {
        let response = self.client.get(self.url("/openapi.json")).send().await;
        body(response.expect("openapi.json")).await
    }

    /// Asserts that the OpenAPI document has every `(path, method)`.
    pub async fn assert_documented(&self, operations: &[(&str, &str)]) {
        let doc = self.openapi().await;
        let paths = doc["paths"].as_object().expect("paths");
        for (path, method) in operations {
            assert!(
                paths.get(*path).and_then(|p| p.get(*method)).is_some(),
                "{method} {path} undocumented"
            );
        }
    }
}

/// Asserts a 422 `validation_failed` answer and returns its body.
pub async fn assert_invalid(response: Response) -> Value {
    assert_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await
}

pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "problem content type"
    );
    let problem = body(response).await;
    assert_eq!(problem["code"], code, "problem: {problem}");
    for field in ["type", "title", "status", "detail", "code", "request_id"] {
        assert!(
            !problem[field].is_null(),
            "problem lacks {field}: {problem}"
        );
    }
    problem
}

impl TestApp {
    /// A verified account holding `role`, logged in again so its access
    /// token carries the role. Granted the way operators bootstrap admins.
    pub async fn create_account_with_role(&self, role: &str) -> Account {
        let account = self.create_account().await;
        self.grant_and_login(account, role).await
    }

    /// Grants `role` to `account` as operators do (`admin grant-role`),
    /// waits for the login read model to hold it, and logs in again so the
    /// access token carries it.
    pub async fn grant_and_login(&self, mut account: Account, role: &str) -> Account {
        let email = format!("{}@example.com", account.username);
        let parsed = aggregates::user::Role::parse(role).expect("a role");
        identity::bootstrap::grant_role(self.db.clone(), &email, parsed)
            .await
            .expect("grant role");
        eventually(Duration::from_secs(5), || async {
            let roles: identity::store::Roles = on_db!(&self.db, pool => {
                sqlx::query_scalar("SELECT roles FROM login_lookup WHERE email = $1")
                    .bind(&email)
                    .fetch_one(pool)
                    .await
            })
            .ok()?;
            roles.0.iter().any(|r| r == role).then_some(())
        })
        .await;
        let pair = body(self.login(&account.username, PASSWORD).await).await;
        account.access_token = pair["access_token"].as_str().expect("access").to_owned();
        account.refresh_token = pair["refresh_token"].as_str().expect("refresh").to_owned();
        account.session_id = pair["session_id"].as_str().expect("sid").to_owned();
        account
    }

    pub async fn admin_post(&self, path: &str, token: &str, body: Option<Value>) -> Response {
        let request = self.client.post(self.url(path)).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("request sent")
    }

    pub async fn count_events(&self, event_type: &str, aggregate_id: &str) -> i64 {
        on_db!(&self.db, pool => {
        sqlx::query_scalar(
                    "SELECT count(*) FROM events WHERE event_type = $1 AND aggregate_id = $2",
                )
                .bind(event_type)
                .bind(aggregate_id)
                .fetch_one(pool)
        .await
        })
        .expect("count events")
    }
}

impl TestApp {
    /// Another instance of the service on the same database, secret and
    /// stream: what production runs behind a load balancer. A SQLite file
    /// has one server (a second refuses to start), so there "every
    /// instance" is this one and its address is returned.
    pub async fn second_instance(&self) -> String {
        if on_sqlite() {
            return self.address.clone();
        }
        let app = Application::build(self.config.clone())
            .await
            .expect("second instance builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        address
    }
}

/// What a test needs to run the `identity` binary: an SMTP sink, a data
/// directory and a database of its own (kept as long as this lives).
pub struct BinarySetup {
    pub smtp: SmtpSink,
    pub data_dir: tempfile::TempDir,
    pub database_url: String,
}

impl BinarySetup {
    pub async fn new() -> Self {
        let smtp = SmtpSink::start().await.expect("SMTP sink");
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database_url = new_database_url(data_dir.path()).await;
        Self {
            smtp,
            data_dir,
            database_url,
        }
    }

    /// The settings naming them, for [`spawn_binary`].
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IDENTITY_DATABASE_URL", self.database_url.clone()),
            ("IDENTITY_SMTP_PORT", self.smtp.port().to_string()),
            (
                "IDENTITY_DATA_DIR",
                self.data_dir.path().display().to_string(),
            ),
        ]
    }
}

/// Starts the real `identity` binary (`serve`) on a free port with `env`
/// added to its environment; returns the process and its base URL.
pub fn spawn_binary(env: &[(&str, String)]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_identity"))
        .arg("serve")
        .env("IDENTITY_LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .env("IDENTITY_METRICS_ADDR", "127.0.0.1:0")
        .env("IDENTITY_LOG", "error")
        // Every caller runs an SMTP sink on loopback (and names its port).
        .env("IDENTITY_SMTP_HOST", "127.0.0.1")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the identity binary");
    (child, format!("http://127.0.0.1:{port}"))
}

/// Waits until `address` answers `/health/ready` with 200.
pub async fn wait_ready(address: &str) {
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(30), || async {
        let ready = client
            .get(format!("{address}/health/ready"))
            .send()
            .await
            .ok()?;
        (ready.status() == StatusCode::OK).then_some(())
    })
    .await;
}

/// A new account registered at `address` (a running binary) and verified
/// with the code `code_for(email)` finds: its username, email and the
/// verification's answer (the first token pair).
pub async fn register_and_verify_at<F, Fut>(
    client: &reqwest::Client,
    address: &str,
    code_for: F,
) -> (String, String, Value)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let username = unique_name();
    let email = format!("{username}@example.com");
    let registered = client
        .post(format!("{address}/api/v1/auth/register"))
        .json(&json!({"username": username, "email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let code = code_for(email.clone()).await;
    let verified = client
        .post(format!("{address}/api/v1/auth/verify-email"))
        .json(&json!({"email": email, "code": code}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(verified.status(), StatusCode::OK);
    let pair = verified.json().await.expect("json");
    (username, email, pair)
}
