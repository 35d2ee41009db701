//! The HTML side: the Security tab, the pages around it, static assets and
//! the request-wide middleware.

use actix_web::web;

pub mod activate_step;
pub mod activity;
pub mod assets;
pub mod branding;
pub mod connection_step;
pub mod domains_step;
pub mod error;
pub mod guides;
pub mod middleware;
pub mod oauth;
pub mod oidc;
pub mod oidc_step;
pub mod pages;
pub mod role_rules;
pub mod saml;
pub mod security_tab;
pub mod session;
pub mod sign_in_result;
pub mod test_step;
pub mod views;

/// The route table of the pages.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(pages::index))
        .route("/healthz", web::get().to(pages::healthz))
        .route("/readyz", web::get().to(pages::readyz))
        .route("/static/{path:.*}", web::get().to(assets::serve))
        .route("/branding/theme.css", web::get().to(branding::theme))
        .route("/branding/logo", web::get().to(branding::logo))
        .route(
            "/favicon.ico",
            web::get().to(|| async {
                actix_web::HttpResponse::MovedPermanently()
                    .insert_header(("location", assets::url("favicon.svg")))
                    .finish()
            }),
        )
        .route("/errors", web::get().to(pages::errors_index))
        .route("/errors/{code}", web::get().to(pages::error_code))
        .route(
            "/security/portal/{token}",
            web::get().to(security_tab::open_portal_link),
        )
        .route(
            "/security/embed/{token}",
            web::get().to(security_tab::open_embed_token),
        )
        .route("/saml/{id}/metadata", web::get().to(saml::metadata))
        .route("/saml/{id}/certificate", web::get().to(saml::certificate))
        .route("/oidc/{id}/callback", web::get().to(oidc::callback))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(oauth::configuration),
        )
        .route("/oauth/jwks", web::get().to(oauth::jwks))
        .route("/oauth/authorize", web::get().to(oauth::authorize))
        .route("/oauth/authorize", web::post().to(oauth::authorize_form))
        .route("/oauth/token", web::post().to(oauth::token))
        .route("/oauth/userinfo", web::get().to(oauth::userinfo))
        .route("/oauth/userinfo", web::post().to(oauth::userinfo))
        .service(
            web::resource("/saml/{id}/acs")
                .app_data(web::PayloadConfig::new(saml::ACS_BODY_LIMIT + 1))
                .route(web::post().to(saml::acs)),
        )
        .route("/security", web::get().to(security_tab::overview))
        .route("/security/sign-out", web::post().to(security_tab::sign_out))
        .route("/security/domains", web::post().to(domains_step::add))
        .route(
            "/security/connection",
            web::post().to(connection_step::choose),
        )
        .route(
            "/security/connection/{id}/idp",
            web::post().to(connection_step::save_idp),
        )
        .route(
            "/security/connection/{id}/oidc",
            web::post().to(oidc_step::save),
        )
        .route(
            "/security/connection/{id}/options",
            web::post().to(connection_step::save_options),
        )
        .route(
            "/security/connection/{id}/mapping",
            web::post().to(connection_step::save_mapping),
        )
        .route(
            "/security/connection/{id}/delete",
            web::post().to(connection_step::delete),
        )
        .route(
            "/security/domains/{id}/verify",
            web::post().to(domains_step::verify),
        )
        .route(
            "/security/domains/{id}/remove",
            web::post().to(domains_step::remove),
        )
        .route(
            "/security/domains/{id}/purpose",
            web::post().to(domains_step::set_purpose),
        )
        .route("/security/activity", web::get().to(activity::page))
        .route("/security/test/start", web::get().to(test_step::start))
        .route(
            "/security/test/email-attribute",
            web::post().to(test_step::use_email_attribute),
        )
        .route(
            "/security/test/email-claim",
            web::post().to(test_step::use_email_claim),
        )
        .route("/security/test/roles", web::post().to(role_rules::add))
        .route(
            "/security/test/roles/remove",
            web::post().to(role_rules::remove),
        )
        .route(
            "/security/test/roles/up",
            web::post().to(role_rules::move_up),
        )
        .route(
            "/security/activate",
            web::post().to(activate_step::activate),
        )
        .route(
            "/security/deactivate",
            web::post().to(activate_step::deactivate),
        )
        .route("/security/test/latest", web::get().to(test_step::latest))
        .route("/security/{step}", web::get().to(security_tab::step));
}
