//! The OpenAPI document (`/openapi.json`) and Swagger UI (`/docs`), served
//! from assets compiled into the binary, so the page works offline.

use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    accounts, admin, events, health, history, influencer, influencer_admin, me, problem, referrals,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Identity service", description = "Accounts, verification, login and sessions. Errors are application/problem+json (RFC 9457)."),
    paths(
        accounts::register, accounts::verify_email, accounts::resend, accounts::login,
        accounts::refresh, accounts::logout, accounts::logout_all, accounts::sessions,
        me::me, health::live, health::ready, health::jwks,
        admin::list_users, admin::get_user, admin::lock, admin::unlock, admin::deactivate,
        admin::reactivate, admin::set_roles, history::history,
        influencer::apply, influencer::my_applications, influencer::claim_code,
        influencer::deactivate_code, influencer::dashboard, influencer::my_referrals,
        influencer_admin::list_applications, influencer_admin::approve, influencer_admin::reject,
        influencer_admin::suspend, influencer_admin::reinstate, influencer_admin::set_commission,
        influencer_admin::payout, influencer_admin::list_influencers,
        influencer_admin::get_influencer, influencer_admin::overview, referrals::record, referrals::refund,
        events::events, events::stream
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
