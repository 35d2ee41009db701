//! The host-facing OpenID provider's endpoints: discovery, keys, the
//! authorization request, the token and userinfo endpoints.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::error::PageError;
use super::middleware::current_request_id;
use super::test_step::post_binding_page;
use crate::domain::connections::Connection;
use crate::domain::sign_in::SignInError;
use crate::services::Services;
use crate::services::oauth::{
    Authorize, AuthorizeParams, FailedSignIn, HostRequest, JWKS_MAX_AGE_SECONDS, OauthError,
    SignedInPerson, TokenParams, Vouched, error_redirect,
};
use crate::services::saml_signin::SignInStart;
use crate::services::test_sign_in::FlowOrigin;

fn json(value: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(value)
}

fn oauth_error(e: OauthError) -> HttpResponse {
    let mut res =
        HttpResponse::build(StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST));
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if e.status == 401 {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"gatehouse\""));
    }
    res.json(serde_json::json!({ "error": e.error, "error_description": e.description }))
}

/// `GET /.well-known/openid-configuration`
pub async fn configuration(services: web::Data<Services>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(services.openid_configuration())
}

/// `GET /oauth/jwks`
pub async fn jwks(services: web::Data<Services>) -> Result<HttpResponse, PageError> {
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECONDS}"),
        ))
        .json(services.jwks().await?))
}

/// The cookie an identity-provider-initiated sign-in waits in.
pub const HANDOFF_COOKIE: &str = "gatehouse_handoff";

/// `GET /oauth/authorize`
pub async fn authorize(
    req: HttpRequest,
    services: web::Data<Services>,
    query: web::Query<AuthorizeParams>,
) -> Result<HttpResponse, PageError> {
    answer_authorize(&req, &services, &query).await
}

/// `POST /oauth/authorize`: the same parameters as a form, which OpenID
/// Connect requires providers to take too.
pub async fn authorize_form(
    req: HttpRequest,
    services: web::Data<Services>,
    form: web::Form<AuthorizeParams>,
) -> Result<HttpResponse, PageError> {
    answer_authorize(&req, &services, &form).await
}

async fn answer_authorize(
    req: &HttpRequest,
    services: &Services,
    params: &AuthorizeParams,
) -> Result<HttpResponse, PageError> {
    let cookie = req.cookie(HANDOFF_COOKIE);
    let had_cookie = cookie.is_some();
    let handoff = cookie.and_then(|c| services.open_handoff(c.value()));
    let mut res = match services
        .authorize(params, handoff, Some(current_request_id()))
        .await?
    {
        Authorize::Start(SignInStart::Redirect(url)) | Authorize::Redirect(url) => {
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, url))
                .finish()
        }
        Authorize::Start(SignInStart::Post {
            url,
            saml_request,
            relay_state,
        }) => post_binding_page(&url, &saml_request, &relay_state)?,
        Authorize::Page(code) => return Err(PageError::new(StatusCode::BAD_REQUEST, code)),
    };
    // A handoff serves one authorization request.
    if had_cookie
        && let Ok(v) = header::HeaderValue::from_str(&format!(
            "{HANDOFF_COOKIE}=; Path=/oauth/authorize; Max-Age=0; HttpOnly; SameSite=Lax"
        ))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// `POST /oauth/token`
pub async fn token(
    req: HttpRequest,
    services: web::Data<Services>,
    form: web::Form<TokenParams>,
) -> HttpResponse {
    let credentials = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(Services::basic_credentials)
        .unwrap_or_default();
    match services.exchange_host_code(&credentials, &form).await {
        Ok(tokens) => json(tokens),
        Err(e) => oauth_error(e),
    }
}

/// `GET /oauth/userinfo` (or POST)
pub async fn userinfo(req: HttpRequest, services: web::Data<Services>) -> HttpResponse {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .trim()
        .to_string();
    match services.host_userinfo(&token).await {
        Ok(claims) => json(claims),
        Err(e) => {
            let mut res = oauth_error(e);
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            res
        }
    }
}

/// A sign-in started at the identity provider's dashboard: on to the host's
/// `initiate_login_uri`, the vouched-for person waiting in a sealed cookie
/// for the host's authorization request. `None` when no host takes it.
pub async fn idp_initiated(
    services: &Services,
    connection: &Connection,
    person: &SignedInPerson,
) -> Option<Result<HttpResponse, PageError>> {
    let (url, sealed) = match services.start_handoff(connection, person).await {
        Ok(Some(found)) => found,
        Ok(None) => return None,
        Err(e) => return Some(Err(e.into())),
    };
    let secure = if services.config.public_url_is_https() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{HANDOFF_COOKIE}={sealed}; Path=/oauth/authorize; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        crate::services::oauth::HANDOFF_LIFETIME.num_seconds()
    );
    Some(Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .insert_header((header::SET_COOKIE, cookie))
        .finish()))
}

/// A sign-in the host started (`request`): provision the person and hand
/// the host its code, or, if their SAML assertion is refused there, the
/// error.
pub async fn host_success(
    services: &Services,
    connection: &Connection,
    request: &HostRequest,
    vouched: Vouched,
) -> Result<HttpResponse, PageError> {
    let finished = services
        .finish_host_sign_in(connection, request, vouched, Some(current_request_id()))
        .await?;
    match finished {
        Ok(url) => Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .finish()),
        Err(refused) => Ok(failure_to_host(services, Some(connection), request, &refused).await),
    }
}

/// A sign-in the host started failed: back to the host with the OAuth
/// error and Gatehouse's code, and the failure in the audit log.
pub async fn host_failure(
    services: &Services,
    connection_id: Option<&str>,
    origin: &FlowOrigin,
    error: &SignInError,
) -> Option<HttpResponse> {
    let request = origin.host_request()?;
    let connection = match connection_id {
        Some(id) => services.get_connection(id).await.ok(),
        None => None,
    };
    Some(failure_to_host(services, connection.as_ref(), &request, error).await)
}

/// Back to the host with the OAuth error, the failure in the audit log.
async fn failure_to_host(
    services: &Services,
    connection: Option<&Connection>,
    request: &HostRequest,
    error: &SignInError,
) -> HttpResponse {
    if let Some(connection) = connection {
        services
            .record_sign_in_failure(
                FailedSignIn {
                    client_id: Some(&request.client_id),
                    ..FailedSignIn::at(connection, error.code)
                },
                Some(current_request_id()),
            )
            .await;
    }
    let url = error_redirect(
        &services.config.public_origin(),
        request,
        "access_denied",
        error.code,
    );
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, url))
        .finish()
}
