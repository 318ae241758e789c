//! The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`), served
//! from assets compiled into the binary, so the page works offline.

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::problem;
use crate::state::AppState;

/// The document's frame: title, shared schemas, the bearer scheme. The
/// paths come from the routes themselves (`http::routes`).
#[derive(OpenApi)]
#[openapi(
    info(title = "Identity service", description = "Accounts, verification, login and sessions. Errors are application/problem+json (RFC 9457)."),
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
        // Registered clients at `/oauth/introspect` (`identity clients`).
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::builder().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

pub fn router(openapi: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
}
