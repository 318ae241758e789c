//! `/oauth/authorize`: the sign-in page of the authorization-code grant
//! (`accounts::oauth` says how the grant works). Plain HTML forms, no
//! script: the page works in any browser and with a screen reader, and
//! its policy lets it load nothing. What the person types goes to the same
//! use cases as `/api/v1/auth/login` and `/api/v1/auth/mfa` (lockout, rate
//! limits, timing), and the same metrics count it.
//!
//! The request the page was shown for travels in a hidden field, sealed,
//! so the form cannot be pointed at another client or redirect URI. The
//! form needs no CSRF token of its own: posting it signs in only someone
//! who knows the password, and its code goes only to the client's
//! registered redirect URI, useless without that client's PKCE verifier;
//! `frame-ancestors 'none'` keeps the page out of other sites' frames.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use crate::accounts::oauth::{self, AuthorizationRequest, AuthorizeError, AuthorizeParams};
use crate::accounts::{self, ClientInfo, Identifier, SecondFactorAnswer, SignedIn};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::Metadata;

pub fn router() -> OpenApiRouter<AppState> {
    documented_routes![authorize, sign_in]
}

/// Start signing in for an application (OpenID Connect Core 3.1.2).
#[utoipa::path(get, path = "/oauth/authorize", tag = "oauth", params(AuthorizeParams),
    description = "The sign-in page for a registered client: `response_type=code`, PKCE with `S256`, the exact registered `redirect_uri`. A bad client or redirect URI shows an error page; any other bad request goes back to the client with `error` and `state`.",
    responses((status = 200, body = String, content_type = "text/html", description = "the sign-in page"),
              (status = 303, description = "back to the client with `error`"),
              (status = 400, body = String, content_type = "text/html", description = "unknown client or redirect URI")))]
pub async fn authorize(
    State(state): State<AppState>,
    query: Result<Query<AuthorizeParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return error_page(StatusCode::BAD_REQUEST, "The sign-in link is malformed.");
    };
    match oauth::check_request(&state, params).await {
        Ok(request) => password_page(&state, &request, StatusCode::OK, None),
        Err(AuthorizeError::NotRedirectable(why)) => error_page(
            StatusCode::BAD_REQUEST,
            &format!("This sign-in link cannot be used: {why}."),
        ),
        Err(AuthorizeError::Redirect {
            redirect_uri,
            state: client_state,
            error,
            description,
        }) => see_other(&oauth::back_to_client(
            &state,
            &redirect_uri,
            &[("error", error), ("error_description", description)],
            client_state.as_deref(),
        )),
        Err(AuthorizeError::Store(error)) => failure_page(&error),
    }
}

/// What the sign-in page posts: the password step, or the second factor.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct SignInForm {
    /// The sealed request the page was shown for.
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    request: Option<String>,
    #[serde(default)]
    identifier: Option<String>,
    #[serde(default)]
    password: Option<String>,
    /// Set on the second-factor step.
    #[serde(default)]
    mfa_token: Option<String>,
    /// A TOTP code (second-factor step).
    #[serde(default)]
    code: Option<String>,
    /// Or a recovery code (second-factor step).
    #[serde(default)]
    recovery_code: Option<String>,
}

/// The sign-in page's answer: back to the client with a code, the
/// second-factor page, or the page again with what went wrong.
#[utoipa::path(post, path = "/oauth/authorize", tag = "oauth",
    request_body(content = SignInForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "back to the client with `code`, `state` and `iss`"),
              (status = 200, body = String, content_type = "text/html", description = "the second-factor page"),
              (status = 400, body = String, content_type = "text/html", description = "the page expired"),
              (status = 401, body = String, content_type = "text/html", description = "the page again: wrong credentials or code"),
              (status = 429, body = String, content_type = "text/html", description = "the page again: locked or rate limited")))]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    metadata: Metadata,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return expired_page();
    };
    let Some(request) = form
        .request
        .as_deref()
        .and_then(|sealed| oauth::open_request(&state, sealed))
    else {
        return expired_page();
    };
    let text = |value: Option<String>| value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let signed_in = match text(form.mfa_token) {
        Some(mfa_token) => {
            let answer = match (text(form.code), text(form.recovery_code)) {
                (Some(code), _) => SecondFactorAnswer::Totp(code),
                (None, Some(code)) => SecondFactorAnswer::RecoveryCode(code),
                (None, None) => {
                    let why = "Enter the code from your authenticator app.";
                    return second_factor_page(
                        &state,
                        &request,
                        &mfa_token,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        Some(why),
                    );
                }
            };
            let done =
                accounts::complete_second_factor(&state, &mfa_token, answer, client, metadata)
                    .await;
            match crate::instruments::sign_in("second_factor", done) {
                Ok(pair) => Ok(SignedIn::Tokens(pair)),
                Err(error @ (AppError::InvalidCode | AppError::TooManyAttempts)) => {
                    let (status, _) = error.status_and_code();
                    let why = error.to_string();
                    return second_factor_page(&state, &request, &mfa_token, status, Some(&why));
                }
                Err(error) => Err(error),
            }
        }
        None => {
            let identifier = text(form.identifier).unwrap_or_default();
            let password = form.password.unwrap_or_default();
            // A malformed identifier cannot match an account: the same
            // answer as any miss, as the API gives.
            let parsed =
                Identifier::parse(&identifier).unwrap_or(Identifier::Username(String::new()));
            let done = accounts::login(&state, parsed, &password, client, metadata).await;
            crate::instruments::sign_in("password", done)
        }
    };
    match signed_in {
        Ok(SignedIn::Tokens(pair)) => match granted(&state, request, pair).await {
            Ok(location) => see_other(&location),
            Err(error) => failure_page(&error),
        },
        Ok(SignedIn::SecondFactor(challenge)) => {
            second_factor_page(&state, &request, &challenge.mfa_token, StatusCode::OK, None)
        }
        Err(error) => {
            let (status, _) = error.status_and_code();
            if status.is_server_error() {
                return failure_page(&error);
            }
            password_page(&state, &request, status, Some(&error.to_string()))
        }
    }
}

/// The code for a signed-in `pair`: who and how come from its access token.
async fn granted(
    state: &AppState,
    request: AuthorizationRequest,
    pair: accounts::TokenPair,
) -> Result<String, AppError> {
    let claims = state
        .tokens
        .verify(&pair.access_token)
        .map_err(AppError::internal)?;
    oauth::grant(state, request, pair, claims.amr, claims.sub).await
}

fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => error_page(StatusCode::BAD_REQUEST, "The redirect URI cannot be used."),
    }
}

fn expired_page() -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "This sign-in page has expired. Go back to the application and start again.",
    )
}

fn failure_page(error: &AppError) -> Response {
    let (status, code) = error.status_and_code();
    tracing::warn!(error = %crate::telemetry::Chain(error), code, "the sign-in page failed");
    error_page(
        status,
        "Signing in is not possible right now. Try again in a moment.",
    )
}

fn password_page(
    state: &AppState,
    request: &AuthorizationRequest,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let sealed = oauth::seal_request(state, request);
    let body = format!(
        r#"<h1>Sign in</h1>
<p>to continue to <strong>{client}</strong></p>
{problem}<form method="post" action="/oauth/authorize">
<input type="hidden" name="request" value="{sealed}">
<label for="identifier">Username, email or phone</label>
<input id="identifier" name="identifier" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>"#,
        client = escape(&request.client_id),
        problem = problem_text(problem),
        sealed = escape(&sealed),
    );
    page(status, "Sign in", &body, Some(&request.redirect_uri))
}

fn second_factor_page(
    state: &AppState,
    request: &AuthorizationRequest,
    mfa_token: &str,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    let sealed = oauth::seal_request(state, request);
    let body = format!(
        r#"<h1>Two-step verification</h1>
<p>Enter the code from your authenticator app, or one of your recovery codes.</p>
{problem}<form method="post" action="/oauth/authorize">
<input type="hidden" name="request" value="{sealed}">
<input type="hidden" name="mfa_token" value="{token}">
<label for="code">Authenticator code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autofocus>
<label for="recovery_code">Or a recovery code</label>
<input id="recovery_code" name="recovery_code" autocomplete="off">
<button type="submit">Continue</button>
</form>"#,
        problem = problem_text(problem),
        sealed = escape(&sealed),
        token = escape(mfa_token),
    );
    page(
        status,
        "Two-step verification",
        &body,
        Some(&request.redirect_uri),
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let body = format!("<h1>Cannot sign in</h1>\n<p>{}</p>", escape(message));
    page(status, "Cannot sign in", &body, None)
}

fn problem_text(problem: Option<&str>) -> String {
    problem
        .map(|p| format!("<p role=\"alert\" class=\"problem\">{}</p>\n", escape(p)))
        .unwrap_or_default()
}

/// A whole page, with a policy that lets it load nothing and post only to
/// us, and be redirected from there only to the client (`form-action`
/// covers the redirect after a form in browsers that enforce it).
fn page(status: StatusCode, title: &str, body: &str, redirect_uri: Option<&str>) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
<style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n",
        title = escape(title),
    );
    let form_action = redirect_uri
        .and_then(source_of)
        .map(|source| format!("'self' {source}"))
        .unwrap_or_else(|| "'self'".to_owned());
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    let mut response = (status, axum::response::Html(html)).into_response();
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}

/// `redirect_uri` as a CSP source: its origin, or `scheme:` for an app's
/// own scheme.
fn source_of(redirect_uri: &str) -> Option<String> {
    let url = reqwest::Url::parse(redirect_uri).ok()?;
    let origin = url.origin();
    if origin.is_tuple() {
        Some(origin.ascii_serialization())
    } else {
        Some(format!("{}:", url.scheme()))
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7}\
main{max-width:22rem;margin:4rem auto;padding:2rem;background:#fff;border-radius:8px}\
label,input,button{display:block;width:100%;box-sizing:border-box}\
label{margin-top:1rem}input{padding:.5rem;margin-top:.25rem}\
button{margin-top:1.5rem;padding:.6rem}.problem{color:#a40000}";

/// Text for HTML, attribute values included.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_redirect_uri_becomes_its_origin_or_scheme_as_a_policy_source() {
        assert_eq!(
            source_of("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(
            source_of("com.example.app:/oauth").as_deref(),
            Some("com.example.app:")
        );
    }
}
