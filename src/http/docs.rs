//! The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`), served
//! from assets compiled into the binary, so the page works offline.

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{accounts, admin, health, history, me, problem};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Identity service", description = "Accounts, verification, login and sessions. Errors are application/problem+json (RFC 9457)."),
    paths(
        accounts::register, accounts::verify_email, accounts::resend, accounts::login,
        accounts::refresh, accounts::logout, accounts::logout_all, accounts::sessions,
        me::me, health::live, health::ready, health::jwks,
        admin::list_users, admin::get_user, admin::lock, admin::unlock, admin::deactivate,
        admin::reactivate, admin::set_roles, history::history
    ),
    components(schemas(problem::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
