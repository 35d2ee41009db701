//! Every error code a person can meet, with a title, a cause and a fix
//! written for the IT admin or developer who has to act on it. The pages at
//! `/errors` and `/errors/{code}` list them; problem+json `type` links there.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    pub code: &'static str,
    pub title: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
}

const fn code(
    code: &'static str,
    title: &'static str,
    cause: &'static str,
    fix: &'static str,
) -> ErrorCode {
    ErrorCode {
        code,
        title,
        cause,
        fix,
    }
}

pub const ALL: &[ErrorCode] = &[
    // Security tab access
    code(
        "portal_link_used",
        "This setup link was already used",
        "Setup links open the Security settings once. Someone (perhaps a link preview in your chat or mail tool) already opened this one.",
        "Ask for a new setup link from the application that sent it, and open it yourself.",
    ),
    code(
        "portal_link_expired",
        "This setup link has expired",
        "Setup links stop working a short while after they are created, so that an old message cannot be used to change your sign-in settings.",
        "Ask for a new setup link from the application that sent it.",
    ),
    code(
        "portal_link_invalid",
        "This setup link is not valid",
        "The link is incomplete or was never issued. It may have been cut off when it was copied.",
        "Copy the whole link again, or ask for a new one.",
    ),
    code(
        "embed_token_used",
        "This embedded page was already opened",
        "The page that embeds the Security settings opened its one-time token twice, for example after a reload of the frame alone.",
        "Reload the whole page. Host developers: mint a fresh embed token for every page view.",
    ),
    code(
        "embed_token_expired",
        "This embedded page has expired",
        "The token that opens the embedded Security settings is short-lived and was used too late.",
        "Reload the page. Host developers: mint the embed token when the page is rendered, not in advance.",
    ),
    code(
        "embed_token_invalid",
        "This embedded page could not be opened",
        "The token in the frame's address is incomplete or was never issued.",
        "Reload the page. Host developers: use the `url` returned by the embed_tokens call unchanged.",
    ),
    code(
        "session_missing",
        "Open the Security settings from your application",
        "These settings open only from a setup link or from the page of your application that shows them. There is no session in this browser.",
        "Go back to your application and open the Security settings from there, or ask for a setup link.",
    ),
    code(
        "session_expired",
        "Your session has ended",
        "Sessions end after a period without activity, and after a few hours in any case.",
        "Open the Security settings again from your application, or ask for a new setup link.",
    ),
    code(
        "csrf_token_invalid",
        "The form could not be verified",
        "The request did not carry this session's form token. The page may be older than your current session, or the request did not come from the Security settings.",
        "Reload the page and try again.",
    ),
    code(
        "csrf_origin_mismatch",
        "The request came from another site",
        "Changes are accepted only from the Security settings pages themselves; this request came from elsewhere or did not say where it came from.",
        "Make the change from the Security settings page. If you are on it, reload it and try again.",
    ),
    code(
        "self_serve_disabled",
        "Single sign-on self-service is not enabled",
        "The application has not turned on self-service SSO set-up for your organization.",
        "Contact the application's support or your account manager and ask them to enable it.",
    ),
    code(
        "not_found",
        "Page not found",
        "There is nothing at this address.",
        "Check the address, or go back to the page you came from.",
    ),
    code(
        "internal_error",
        "Something went wrong on our side",
        "Gatehouse hit an unexpected problem. Nothing you did caused it.",
        "Try again in a moment. If it keeps happening, send the request id below to your application's support.",
    ),
    // Host API
    code(
        "unauthorized",
        "API key missing or not valid",
        "Host API requests need `Authorization: Bearer <api key>` with a key that exists and has not been revoked.",
        "Create a key with `gatehouse api-key create --name NAME` and send it in the Authorization header.",
    ),
    code(
        "invalid_json",
        "The request body is not valid JSON",
        "The body could not be parsed as JSON, or it was empty where an object was expected.",
        "Send a JSON object with `Content-Type: application/json`.",
    ),
    code(
        "invalid_body",
        "The request body has the wrong shape",
        "The JSON parsed, but a field is unknown, missing or of the wrong type.",
        "Compare the body with the API reference; unknown fields are refused so typos are caught.",
    ),
    code(
        "unsupported_media_type",
        "The request body is not JSON",
        "The API accepts only `application/json` bodies.",
        "Send `Content-Type: application/json`.",
    ),
    code(
        "payload_too_large",
        "The request body is too large",
        "The body is over the size limit for this endpoint.",
        "Send a smaller body.",
    ),
    code(
        "invalid_query",
        "A query parameter is not valid",
        "A query parameter could not be understood (for example `limit` outside 1 to 100, or a malformed `cursor`).",
        "Fix the parameter named in the message.",
    ),
    code(
        "validation_failed",
        "A field is not valid",
        "A value in the request breaks a rule; the message names the field and the rule.",
        "Fix the field named in the message.",
    ),
    // Branding of the Security tab (host API)
    code(
        "branding_product_name_invalid",
        "The product name is not valid",
        "product_name must be 1 to 60 characters, without control characters such as line breaks.",
        "Send the name your customers know your product by, or null to go back to the default wording.",
    ),
    code(
        "branding_accent_color_invalid",
        "The accent colour is not valid",
        "accent_color must be written as # and six hexadecimal digits, such as #3b5bdb; colour names, #rgb shorthand and transparency are not accepted.",
        "Send the colour as #rrggbb, or null to go back to the built-in colour.",
    ),
    code(
        "branding_logo_type_unsupported",
        "This logo format is not accepted",
        "The logo must be a PNG, JPEG or WebP image. SVG is refused because an SVG file can carry script.",
        "Export the logo as PNG or WebP and send its content_type as image/png, image/jpeg or image/webp.",
    ),
    code(
        "branding_logo_content_mismatch",
        "The logo is not what its type says",
        "The logo's bytes do not start the way a file of the declared content_type does (for example an SVG or HTML file sent as image/png, or a JPEG sent as image/png).",
        "Send the image file's bytes unchanged, base64-encoded, with the content_type that matches them.",
    ),
    code(
        "branding_logo_too_large",
        "The logo is too large",
        "A logo may be at most 256 KB. It is shown at a small size, so a larger file only slows the page down.",
        "Scale the logo down (a height of 64 to 128 pixels is plenty) or compress it, then send it again.",
    ),
    code(
        "branding_logo_invalid",
        "The logo data could not be read",
        "logo.data_base64 is empty or is not valid base64.",
        "Send the image file's bytes encoded with standard base64 (with padding), without a data: URL prefix.",
    ),
    code(
        "method_not_allowed",
        "Method not allowed",
        "This endpoint does not accept that HTTP method.",
        "Check the API reference for the methods this path accepts.",
    ),
    code(
        "organization_not_found",
        "Organization not found",
        "No organization has this id.",
        "Use the `id` returned when the organization was created (it starts with `org_`).",
    ),
    code(
        "slug_taken",
        "Slug already in use",
        "Another organization already has this slug.",
        "Choose another slug, or leave it out to have one derived from the name.",
    ),
    code(
        "external_id_taken",
        "External id already in use",
        "Another organization already has this external_id.",
        "Each organization's external_id must be unique; look the existing one up with `GET /api/v1/organizations?external_id=`.",
    ),
    // Webhooks
    code(
        "webhook_url_invalid",
        "The webhook URL cannot be used",
        "Webhook endpoints must be absolute https:// URLs without a user name or password, on a publicly reachable address.",
        "Register the public https URL of your receiver.",
    ),
    code(
        "webhook_endpoint_not_found",
        "Webhook endpoint not found",
        "No webhook endpoint has this id; it may have been deleted.",
        "Use the `id` returned when the endpoint was created (it starts with `whk_`), or list them with `GET /api/v1/webhook_endpoints`.",
    ),
    // Domains
    code(
        "domain_invalid",
        "That is not a domain name",
        "The value is empty, malformed, an IP address, or a web or email address rather than a domain.",
        "Enter just the domain your organization's email uses, such as example.com.",
    ),
    code(
        "domain_public_suffix",
        "That is a public suffix",
        "Names like com, co.uk or github.io are shared by many unrelated owners, so no single organization can claim one.",
        "Enter your organization's own domain, such as example.co.uk.",
    ),
    code(
        "domain_free_email_provider",
        "That is a public email provider",
        "Addresses at providers such as gmail.com or outlook.com belong to the public, not to one organization.",
        "Enter the domain of your organization's own email.",
    ),
    code(
        "domain_unavailable",
        "That domain is already in use",
        "The domain is verified and in use elsewhere. A verified domain belongs to one organization only.",
        "If your organization owns the domain, contact the application's support.",
    ),
    code(
        "domain_exists",
        "That domain is already in the list",
        "Your organization has already added this domain.",
        "Find it in the list and verify it there.",
    ),
    code(
        "domain_in_use",
        "That domain cannot be removed now",
        "It is the last domain of the active single sign-on connection; removing it would leave your people without a way in.",
        "Deactivate the connection first, or add and verify another domain.",
    ),
    code(
        "domain_not_found",
        "Domain not found",
        "No domain has this id.",
        "Use the `id` returned when the domain was added (it starts with `dom_`).",
    ),
    code(
        "dns_no_such_name",
        "The record's name does not exist yet",
        "The DNS answered that the name `_gatehouse-challenge.<your domain>` does not exist (NXDOMAIN): the TXT record has not been published, or not yet seen.",
        "Add the TXT record at your DNS host under exactly the name shown. New records can take a few minutes to appear.",
    ),
    code(
        "dns_no_txt_record",
        "There is no TXT record at that name",
        "The name exists but holds no record of type TXT (perhaps a CNAME or A record was added instead).",
        "Add a record of type TXT with the value shown.",
    ),
    code(
        "dns_token_mismatch",
        "The TXT record has a different value",
        "TXT records were found at the name, but none holds exactly the expected value. The message lists what was seen.",
        "Copy the value again with the copy button; look for extra quotes, spaces or a truncated value.",
    ),
    code(
        "dns_timeout",
        "The DNS did not answer in time",
        "The nameservers did not answer within a few seconds.",
        "Usually temporary: Gatehouse checks again every few minutes. If it persists, check your domain's nameservers.",
    ),
    code(
        "dns_server_failure",
        "The DNS server failed to answer",
        "The nameservers answered with an error (such as SERVFAIL or REFUSED).",
        "Check that your domain's nameservers are set up and answering; Gatehouse checks again every few minutes.",
    ),
    // Connections
    code(
        "connection_not_found",
        "Connection not found",
        "No connection has this id.",
        "Use the `id` returned when the connection was created (it starts with `conn_`).",
    ),
    code(
        "connection_provider_invalid",
        "Unknown identity provider",
        "The `provider` is not one Gatehouse knows.",
        "Use one of the provider values listed in the message.",
    ),
    code(
        "connection_changed",
        "The connection changed meanwhile",
        "Someone else changed this connection between reading and saving it.",
        "Reload the connection and make the change again.",
    ),
    code(
        "connection_already_active",
        "Another connection is active",
        "An organization signs in through one active connection at a time.",
        "Deactivate the active connection first, then activate this one.",
    ),
    code(
        "connection_incomplete",
        "The connection's settings are not complete",
        "The identity provider's settings (single sign-on URL, entity ID, signing certificate) have not all been given.",
        "Finish the connection step: give the metadata URL, the metadata XML, or the three fields.",
    ),
    code(
        "connection_not_tested",
        "The connection has not passed a test",
        "Activation needs a successful test sign-in on the current settings; the settings changed since the last passing test, or none has passed.",
        "Run a test sign-in from the Test step, then activate.",
    ),
    code(
        "domain_not_verified",
        "No verified domain",
        "A connection can only sign in people whose email domain is verified for single sign-on, and the organization has none.",
        "Verify a domain in the Domains step (used for single sign-on), then try again.",
    ),
    // SAML settings
    code(
        "saml_metadata_invalid",
        "The metadata could not be used",
        "The document is not valid SAML 2.0 identity-provider metadata (the message says what is wrong).",
        "Download the metadata again from your identity provider, or give its metadata URL.",
    ),
    code(
        "saml_settings_ambiguous",
        "Settings given more than one way",
        "The identity provider's settings were given as a metadata URL, as XML and as fields at once.",
        "Give exactly one of them.",
    ),
    code(
        "saml_settings_incomplete",
        "Settings incomplete",
        "Entered by hand, the identity provider's settings need the single sign-on URL, the entity ID and the signing certificate.",
        "Add the missing fields named in the message.",
    ),
    code(
        "saml_certificate_invalid",
        "The certificate could not be read",
        "The signing certificate is not a valid X.509 certificate in PEM or base64 form (or a private key was pasted).",
        "Copy the identity provider's signing certificate again, including the BEGIN and END lines.",
    ),
    code(
        "saml_certificate_expired",
        "The signing certificate has expired",
        "Every signing certificate given has passed its expiry date, so no response could be trusted.",
        "Download the current certificate or metadata from your identity provider.",
    ),
    code(
        "saml_no_signing_certificate",
        "No signing certificate",
        "The settings contain no certificate to check signatures with. Gatehouse accepts only signed SAML responses.",
        "Use metadata that includes a signing KeyDescriptor, or paste the signing certificate.",
    ),
    code(
        "saml_sso_url_invalid",
        "The single sign-on URL is not valid",
        "The single sign-on URL is not an https:// URL.",
        "Copy the SSO URL (sometimes called SAML 2.0 Endpoint or Login URL) from your identity provider.",
    ),
    code(
        "saml_entity_id_invalid",
        "The entity ID is not valid",
        "The identity provider's entity ID (Issuer) is empty or too long.",
        "Copy the entity ID exactly as your identity provider shows it.",
    ),
    // Fetching URLs
    code(
        "fetch_invalid_url",
        "The URL is not valid",
        "The URL could not be parsed, has no host, or contains a user name or password.",
        "Copy the full https:// URL of the document.",
    ),
    code(
        "fetch_scheme_not_allowed",
        "Only https URLs are fetched",
        "Gatehouse fetches documents only over https.",
        "Use the https:// address of the document.",
    ),
    code(
        "fetch_private_address",
        "The URL points to an internal address",
        "The address resolves to a private, loopback or link-local network, which Gatehouse never fetches from.",
        "Use the document's publicly reachable URL.",
    ),
    code(
        "fetch_too_many_redirects",
        "Too many redirects",
        "The URL redirected more than five times.",
        "Use the final URL of the document.",
    ),
    code(
        "fetch_too_large",
        "The document is too large",
        "The document is larger than 1 MiB.",
        "Check that the URL points to the metadata itself.",
    ),
    code(
        "fetch_timeout",
        "The server did not answer in time",
        "The server took longer than 10 seconds.",
        "Try again; if it persists, check the server hosting the document.",
    ),
    code(
        "fetch_failed",
        "The document could not be fetched",
        "Gatehouse could not connect to the server or read its answer.",
        "Check the URL and that the server is reachable from the internet.",
    ),
    code(
        "fetch_http_status",
        "The server answered with an error",
        "The server answered with a status other than 2xx (for example 404 or 403).",
        "Check the URL, and that the document is published without requiring sign-in.",
    ),
    // SAML sign-in (the ACS)
    code(
        "saml_response_malformed",
        "The SAML response could not be read",
        "The response is not valid base64 or well-formed XML, is cut off, or contains a DOCTYPE, comments or processing instructions.",
        "Try again. If it keeps happening, check that the identity provider posts an unmodified SAML 2.0 response.",
    ),
    code(
        "saml_assertion_count_invalid",
        "The response holds more than one assertion",
        "A response must carry exactly one assertion; extra ones are a known way to smuggle an unsigned identity past a signature check.",
        "Check the identity provider's settings; if you did not change anything, report this response to your security team.",
    ),
    code(
        "saml_assertion_encrypted",
        "The assertion is encrypted",
        "The identity provider encrypts assertions (or a NameID or attribute inside one), and encryption is not turned on for this connection.",
        "Either turn on “Encrypted assertions” in the connection's options and give the identity provider the certificate from Gatehouse's SP metadata, or turn encryption off at the identity provider.",
    ),
    code(
        "saml_assertion_not_encrypted",
        "The assertion is not encrypted",
        "This connection requires encrypted assertions, and the identity provider sent one in the clear.",
        "Turn on assertion encryption at the identity provider with the certificate from Gatehouse's SP metadata, or turn “Encrypted assertions” off in the connection's options.",
    ),
    code(
        "saml_assertion_decryption_failed",
        "The encrypted assertion could not be decrypted",
        "The assertion was encrypted for another certificate than this connection's, or it was changed on the way. For safety, Gatehouse gives the same answer for every decryption failure.",
        "Download Gatehouse's SP metadata (or certificate) again and upload it to the identity provider as the encryption certificate, then test again.",
    ),
    code(
        "saml_encryption_algorithm_not_allowed",
        "The assertion is encrypted with an unsafe algorithm",
        "The identity provider encrypts with RSA PKCS#1 v1.5 or Triple DES, which have known attacks. Gatehouse accepts RSA-OAEP with AES-GCM or AES-CBC.",
        "In the identity provider's encryption settings, choose RSA-OAEP for the key and AES-256-GCM (or AES-256-CBC) for the content.",
    ),
    code(
        "saml_sp_key_unavailable",
        "Gatehouse's key for this connection could not be opened",
        "The connection's SP private key is stored encrypted with GATEHOUSE_SECRET_KEY, and it no longer opens, usually because the secret key was changed.",
        "Restore the previous GATEHOUSE_SECRET_KEY, or turn request signing and assertion encryption off and on again to make a new key, and give the identity provider the new certificate.",
    ),
    code(
        "saml_status_not_success",
        "The identity provider did not sign the user in",
        "The identity provider answered with an error status, for example because the user is not assigned to the application.",
        "Assign the user (or their group) to the application at the identity provider, then try again.",
    ),
    code(
        "saml_signature_algorithm_not_allowed",
        "The signature algorithm is too weak",
        "The response is signed with SHA-1 or another algorithm Gatehouse does not accept.",
        "Set the identity provider to sign with RSA-SHA256 (often called SHA-256 in its settings).",
    ),
    code(
        "saml_signature_missing",
        "The response is not signed",
        "Neither the response nor its assertion carries a signature. Gatehouse accepts only signed responses.",
        "Set the identity provider to sign the assertion (or the response).",
    ),
    code(
        "saml_signature_invalid",
        "The signature does not verify",
        "The signature does not match the identity provider's signing certificate saved in the connection, or the signed content was changed in transit.",
        "If the identity provider's certificate changed, update the connection with its current metadata or certificate. Compare the fingerprints shown.",
    ),
    code(
        "saml_destination_mismatch",
        "The response was addressed elsewhere",
        "The response's Destination is not this connection's ACS URL.",
        "Set the ACS URL (also called Single sign-on URL, Reply URL or Recipient) at the identity provider to exactly the value shown in the connection step.",
    ),
    code(
        "saml_recipient_mismatch",
        "The assertion's Recipient is wrong",
        "The assertion names another Recipient than this connection's ACS URL.",
        "Use the connection's ACS URL for both Recipient and Destination at the identity provider.",
    ),
    code(
        "saml_issuer_mismatch",
        "The response comes from another identity provider",
        "The Issuer of the response is not the entity ID saved in the connection.",
        "Update the connection with the identity provider's current metadata, or correct the entity ID.",
    ),
    code(
        "saml_audience_mismatch",
        "The assertion is meant for another application",
        "The assertion's Audience is missing or is not this connection's entity ID.",
        "Set the Audience URI (SP Entity ID) at the identity provider to exactly the value shown in the connection step.",
    ),
    code(
        "saml_in_response_to_invalid",
        "The response does not answer this sign-in",
        "The response answers another sign-in request, an unknown one, or one already completed.",
        "Start the sign-in again from the application.",
    ),
    code(
        "saml_request_expired",
        "The sign-in took too long",
        "More than 10 minutes passed between starting the sign-in and the identity provider's answer.",
        "Start the sign-in again.",
    ),
    code(
        "saml_response_expired",
        "The response has expired",
        "The assertion's validity window has passed, or it was issued too long ago.",
        "Start the sign-in again. If it keeps happening, check the identity provider's clock.",
    ),
    code(
        "saml_response_not_yet_valid",
        "The response is not valid yet",
        "The assertion's validity starts in the future, beyond the two minutes of clock difference allowed.",
        "Check the identity provider's clock.",
    ),
    code(
        "saml_issue_instant_invalid",
        "The response is dated in the future",
        "The response claims to have been issued later than now, beyond the two minutes of clock difference allowed.",
        "Check the identity provider's clock.",
    ),
    code(
        "saml_subject_confirmation_invalid",
        "The assertion cannot be confirmed",
        "The assertion has no bearer subject confirmation that Gatehouse can check.",
        "Check the identity provider's SAML settings for this application.",
    ),
    code(
        "saml_replayed_assertion",
        "This response was already used",
        "Each assertion can sign someone in once; this one was seen before.",
        "Start the sign-in again from the application.",
    ),
    code(
        "saml_response_relaystate_missing",
        "The response has no RelayState",
        "The response cannot be matched to a sign-in started from the application, and signing in from the identity provider's dashboard is not enabled for this connection.",
        "Start the sign-in from the application, or enable sign-in from the identity provider (IdP-initiated) for this connection.",
    ),
    code(
        "saml_response_relaystate_invalid",
        "The RelayState is not Gatehouse's",
        "The response's RelayState was not issued by Gatehouse, or was changed.",
        "Start the sign-in again from the application. At the identity provider, leave the Default RelayState empty.",
    ),
    code(
        "saml_connection_mismatch",
        "The response was posted to another connection",
        "The sign-in started with one connection and the response arrived at another connection's ACS URL.",
        "Check the ACS URL configured at the identity provider for this application.",
    ),
    code(
        "saml_connection_unknown",
        "Unknown connection",
        "No SAML connection has the id in this ACS URL; it may have been deleted.",
        "Copy the ACS URL again from the connection step into the identity provider.",
    ),
    code(
        "saml_user_attribute_missing",
        "The user's email address is missing",
        "The response does not carry the user's email address in a known attribute or an email-shaped NameID.",
        "Add an attribute statement named email with the user's email at the identity provider, or choose which attribute holds the email in the connection's settings.",
    ),
    code(
        "saml_email_address_domain_mismatch",
        "The user's email domain is not verified",
        "The email address the identity provider sent is not at one of the organization's verified SSO domains.",
        "Verify the user's email domain in the Domains step, or fix the email attribute at the identity provider.",
    ),
    code(
        "connection_protocol_mismatch",
        "Settings for the other protocol",
        "A SAML connection was given OpenID Connect settings, or the other way round.",
        "Send `saml` settings for SAML providers and `oidc` settings for the *_oidc providers and custom_oidc.",
    ),
    code(
        "oidc_settings_incomplete",
        "OpenID Connect settings are incomplete",
        "The issuer or discovery URL, the client ID or the client secret is missing.",
        "Give all three; the provider's guide says where to find them.",
    ),
    code(
        "oidc_settings_invalid",
        "OpenID Connect settings are not usable",
        "A value is too long or malformed.",
        "Copy the client ID and secret again from the provider's console.",
    ),
    code(
        "oidc_discovery_url_invalid",
        "The issuer or discovery URL is not valid",
        "What was given is not an https:// URL without a query.",
        "Give the provider's issuer (for example https://your-company.okta.com) or its /.well-known/openid-configuration URL.",
    ),
    code(
        "oidc_discovery_invalid",
        "The discovery document is not usable",
        "The document at the discovery URL is not valid OpenID Connect metadata, or lacks the authorization code flow.",
        "Check the URL: it must answer the provider's openid-configuration JSON.",
    ),
    code(
        "oidc_discovery_issuer_mismatch",
        "The discovery document names another issuer",
        "The document's issuer differs from the URL it was fetched from, which OpenID Connect forbids (it protects against mix-ups between providers).",
        "Give the provider's exact issuer, as its discovery document spells it.",
    ),
    code(
        "oidc_entra_tenant_required",
        "Use your own Microsoft Entra tenant",
        "The shared common, organizations and consumers endpoints accept users of any Microsoft tenant; Gatehouse pins the connection to one.",
        "Give https://login.microsoftonline.com/<Directory (tenant) ID>/v2.0, or just the tenant ID.",
    ),
    code(
        "oidc_client_auth_unsupported",
        "The provider takes no client secret",
        "The provider's token endpoint accepts neither client_secret_basic nor client_secret_post.",
        "Configure the client at the provider as a confidential web application with a client secret.",
    ),
    code(
        "oidc_scope_invalid",
        "A scope is not valid",
        "Scopes are single words without spaces or quotes, 20 at most.",
        "Remove the scope, or spell it as the provider documents it.",
    ),
    code(
        "oidc_connection_unknown",
        "Unknown connection",
        "No OpenID Connect connection has the id in this callback URL; it may have been deleted.",
        "Copy the redirect URI again from the connection step into the provider.",
    ),
    code(
        "oidc_state_missing",
        "The answer carries no state",
        "The provider's answer has no state parameter, so it cannot be matched to a sign-in started by Gatehouse (a sign-in started at the provider's dashboard cannot be completed this way).",
        "Start the sign-in from the application.",
    ),
    code(
        "oidc_state_mismatch",
        "The answer does not match a sign-in",
        "The state is unknown, was cut off, or belongs to a sign-in of another connection.",
        "Start the sign-in again from the application; check that the redirect URI at the provider is this connection's.",
    ),
    code(
        "oidc_state_replayed",
        "The answer was already used",
        "Each sign-in's answer can be used once; this one came a second time (a reload, the back button, or a replay).",
        "Start the sign-in again.",
    ),
    code(
        "oidc_request_expired",
        "The sign-in expired",
        "More than 10 minutes passed between starting the sign-in and the provider's answer.",
        "Start the sign-in again.",
    ),
    code(
        "oidc_issuer_mismatch",
        "The answer comes from another issuer",
        "The answer or the ID token names another issuer than the provider the sign-in was sent to: a misconfiguration, or an attempt to mix up providers.",
        "Check the issuer in the connection's settings.",
    ),
    code(
        "oauth_access_denied",
        "The provider did not let the user in",
        "The identity provider answered access_denied: the user is not assigned to the application, or declined.",
        "Assign the user (or their group) to the application at the provider.",
    ),
    code(
        "oauth_authorization_error",
        "The provider refused the request",
        "The identity provider answered the sign-in request with an error other than access_denied (its words are shown).",
        "Check the client ID, the redirect URI and the allowed scopes at the provider.",
    ),
    code(
        "oauth_token_exchange_error",
        "The code could not be exchanged for tokens",
        "The provider's token endpoint refused the code or could not be reached; its own error and description are shown.",
        "For invalid_client, check the client ID and secret (secrets expire); for invalid_grant, start again; otherwise check that the provider is reachable.",
    ),
    code(
        "oauth_fetch_user_error",
        "The user's details could not be fetched",
        "The ID token lacks the email address and the provider's userinfo endpoint did not supply it, or described another user.",
        "Release the email claim in the ID token, or allow the userinfo endpoint for this client.",
    ),
    code(
        "oidc_id_token_invalid",
        "The ID token is malformed",
        "The ID token is not a well-formed signed JWT, or lacks a required claim (sub, exp, iat).",
        "Check the provider's client configuration; a standard OpenID Connect provider always sends these.",
    ),
    code(
        "oidc_id_token_algorithm_not_allowed",
        "The ID token's algorithm is not accepted",
        "The token is unsigned (alg none) or signed with a shared secret (HMAC); Gatehouse accepts RSA (RS/PS) and ECDSA signatures only.",
        "Set the client's ID token signing algorithm to RS256 at the provider.",
    ),
    code(
        "oidc_id_token_key_unknown",
        "The ID token's key is unknown",
        "The token names a signing key the provider does not publish at its jwks_uri, even after fetching the keys again.",
        "Check the provider's key configuration; if it just rotated keys, try again in a minute.",
    ),
    code(
        "oidc_id_token_signature_invalid",
        "The ID token's signature is invalid",
        "The signature does not verify with the provider's published key: the token was changed or forged.",
        "Try again; if it persists, check that the issuer in the settings is the provider that issues the tokens.",
    ),
    code(
        "oidc_jwks_unavailable",
        "The provider's keys could not be fetched",
        "Gatehouse could not fetch the provider's signing keys (jwks_uri) to check the ID token.",
        "Check that the provider is up and its jwks_uri is reachable from Gatehouse.",
    ),
    code(
        "oidc_jwks_invalid",
        "The provider's keys are not readable",
        "The document at the provider's jwks_uri is not a JSON Web Key Set.",
        "Check the provider's discovery document and key endpoint.",
    ),
    code(
        "oidc_audience_mismatch",
        "The ID token is meant for another application",
        "The token's audience (aud, or azp with several audiences) is not this connection's client ID.",
        "Check the client ID in the connection's settings.",
    ),
    code(
        "oidc_id_token_expired",
        "The ID token has expired",
        "The token's exp is past, or it was issued more than an hour ago (two minutes of clock difference allowed).",
        "Check the clocks of the provider and of Gatehouse, then sign in again.",
    ),
    code(
        "oidc_id_token_iat_invalid",
        "The ID token's times are in the future",
        "The token claims to be issued (iat) or valid (nbf) in the future.",
        "Check the provider's clock.",
    ),
    code(
        "oidc_nonce_mismatch",
        "The ID token belongs to another sign-in",
        "The token does not carry the nonce of this sign-in: it was issued for another one, or replayed.",
        "Start the sign-in again.",
    ),
    code(
        "oidc_email_missing",
        "The user's email address is missing",
        "Neither the ID token nor userinfo carries an email address Gatehouse can use.",
        "Ask the provider to release the email claim (scope email); for Entra ID add the optional email claim, or give the user a mailbox.",
    ),
    code(
        "oidc_email_not_verified",
        "The user's email address is not verified",
        "The provider does not vouch for the email address (email_verified is not true).",
        "Verify the user's email at the provider, or have it send email_verified.",
    ),
    code(
        "oidc_tenant_mismatch",
        "The user belongs to another Microsoft tenant",
        "The ID token's tenant (tid) is not the tenant this connection is pinned to.",
        "Sign in with an account of the organization's own Entra tenant.",
    ),
    code(
        "oidc_hosted_domain_mismatch",
        "Not an account of the organization's Google Workspace",
        "The user signed in with a personal Google account or one of another Workspace (the hd claim).",
        "Sign in with a Google Workspace account at one of the organization's verified domains.",
    ),
    code(
        "oidc_email_address_domain_mismatch",
        "The user's email domain is not verified",
        "The email address the provider vouched for is not at one of the organization's verified SSO domains.",
        "Verify the user's email domain in the Domains step, or fix the user's email at the provider.",
    ),
    code(
        "oidc_email_claim_domain_mismatch",
        "The address from the chosen claim is not at a verified domain",
        "The connection reads the email from a claim other than email (such as upn or preferred_username). The provider does not vouch for that claim as a verified address, so Gatehouse accepts it only at one of the organization's verified SSO domains, and this one is not.",
        "Verify the domain in the Domains step if it is the organization's, fix the user's name at the provider, or read the email from another claim in the Test step.",
    ),
    code(
        "oidc_email_claim_guest",
        "A guest account cannot use the chosen claim",
        "The connection reads the email from a claim other than email, and the user is a guest of the tenant (a #EXT# name, acct = 1, or an idp outside the tenant): their sign-in name is not one the tenant gave them.",
        "Sign in with a member account of the organization's tenant, or have guests use the email claim.",
    ),
    code(
        "oidc_email_claim_invalid",
        "That is not a claim name",
        "The claim to read the email from must be a name as the provider sends it: no spaces, at most 256 characters.",
        "Give the claim's name, such as upn or preferred_username, or leave it empty for the provider's usual claims.",
    ),
    code(
        "test_ticket_invalid",
        "The test link is no longer valid",
        "Test links are bound to the Security tab session that showed them and last 30 minutes; this one expired, was changed, or its session ended.",
        "Open the Test step in the Security tab again and start the test from there.",
    ),
    code(
        "oauth_client_unknown",
        "Unknown application",
        "The sign-in request names a client_id Gatehouse does not know, so there is no safe place to send the person back to.",
        "Register the application with POST /api/v1/oauth_clients and use the client_id it answered.",
    ),
    code(
        "oauth_redirect_uri_invalid",
        "The redirect URI is not registered",
        "The redirect_uri of the sign-in request is not exactly one the application registered (or, when registering, is not an absolute https URL without a fragment).",
        "Register the exact redirect URI (scheme, host, port, path) with the application's OAuth client.",
    ),
    code(
        "oauth_client_name_invalid",
        "The client name is not valid",
        "An OAuth client needs a name of 1 to 100 characters.",
        "Give the client a short name people will recognise.",
    ),
    code(
        "oauth_response_type_unsupported",
        "Only the authorization code flow is supported",
        "The sign-in request asked for a response_type other than code.",
        "Use response_type=code (any certified OpenID Connect client library does).",
    ),
    code(
        "oauth_scope_invalid",
        "The openid scope is missing",
        "An OpenID Connect sign-in request must ask for the openid scope.",
        "Ask for scope=openid email profile.",
    ),
    code(
        "oauth_pkce_invalid",
        "PKCE must use S256",
        "The sign-in request sent a code_challenge with a method other than S256.",
        "Send code_challenge_method=S256, or no PKCE at all.",
    ),
    code(
        "oauth_prompt_invalid",
        "The prompt parameter is not valid",
        "The sign-in request's prompt holds a value other than none, login, consent and select_account, or none together with another value.",
        "Send prompt=login to make the person sign in again, prompt=none alone, or no prompt.",
    ),
    code(
        "oauth_max_age_invalid",
        "The max_age parameter is not valid",
        "The sign-in request's max_age is not a whole number of seconds.",
        "Send max_age as a whole number of seconds (0 makes the person sign in again), or leave it out.",
    ),
    code(
        "oauth_response_mode_unsupported",
        "Only the query response mode is supported",
        "The sign-in request asked for a response_mode other than query; Gatehouse always answers on the redirect URI's query string.",
        "Leave response_mode out, or send response_mode=query.",
    ),
    code(
        "oauth_request_object_unsupported",
        "Request objects are not supported",
        "The sign-in request carried a request or request_uri parameter. Gatehouse's discovery document says it does not take request objects.",
        "Send the sign-in parameters as plain query parameters.",
    ),
    code(
        "oauth_login_required",
        "A sign-in without any page is not possible",
        "The sign-in request had prompt=none, which asks to sign the person in without showing any page. Gatehouse keeps no session of its own: every sign-in goes through the organization's identity provider, which may need to show one.",
        "Treat this answer as \"not signed in\" and start a normal sign-in, without prompt=none, when the person acts.",
    ),
    code(
        "oauth_login_hint_missing",
        "No email or organization given",
        "The sign-in request names neither the person (login_hint) nor the organization (organization).",
        "Pass login_hint=<email> or organization=<organization id> with the sign-in request.",
    ),
    code(
        "oauth_login_hint_invalid",
        "The email address is not valid",
        "The login_hint of the sign-in request is not an email address.",
        "Pass the person's email address as login_hint.",
    ),
    code(
        "email_invalid",
        "The email address is not valid",
        "The value given is not an email address.",
        "Give an address such as alice@example.com.",
    ),
    code(
        "role_mapping_invalid",
        "The role mapping is not valid",
        "Each rule needs a group name (up to 256 characters) and a role named like an organization's default role (up to 64 letters, digits, _, :, . or -), and a connection takes at most 50 rules.",
        "Send role_mapping as a list of {\"group\": …, \"role\": …}, most specific first, or fix the rule the message names.",
    ),
    code(
        "member_joined_through_sso",
        "Members who joined through SSO cannot leave by themselves",
        "The member joined the organization by signing in through its identity provider. Their membership follows the identity provider, so they cannot leave on their own; if they were removed, their next sign-in would add them again.",
        "Ask an admin to remove them (DELETE the membership), and, to keep them out, to stop the identity provider from signing them in to this application.",
    ),
    code(
        "connection_inactive",
        "Single sign-on is not active",
        "The connection is not active, so it cannot sign people in.",
        "Activate the connection in the Activate step, or sign in another way.",
    ),
];

pub fn lookup(code: &str) -> Option<&'static ErrorCode> {
    ALL.iter().find(|c| c.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code the sign-in and settings code can produce has a page.
    #[test]
    fn every_code_in_the_source_is_catalogued() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut all = Vec::new();
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut all,
        );
        let markers = [
            "SignInError::new(",
            "AcsError::new(",
            "SignInError::mismatch(",
            "AcsError::mismatch(",
            "code: \"",
            "refused(",
            "SettingsError::new(",
            "FetchError::new(",
            "Authorize::Page(",
            "fail(\"access_denied\", ",
            "fail(\"invalid_request\", ",
            "fail(\"invalid_scope\", ",
            "fail(\"unsupported_response_type\", ",
            "Ok(Err(",
            "Ok(Err((",
            "ok_or(",
        ];
        let mut missing = Vec::new();
        for path in all {
            let text = std::fs::read_to_string(&path).expect("read");
            for marker in markers {
                for (at, _) in text.match_indices(marker) {
                    let rest = text[at + marker.len()..].trim_start();
                    let rest = rest.strip_prefix('"').unwrap_or(rest);
                    let code: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    let is_code = code.contains('_') && rest[code.len()..].starts_with('"');
                    if is_code && lookup(&code).is_none() && code != "internal_error" {
                        missing.push(format!("{code} ({})", path.display()));
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "not in the catalogue: {missing:#?}");
    }

    #[test]
    fn codes_are_unique_and_written_out() {
        let mut seen = std::collections::HashSet::new();
        for c in ALL {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(!c.title.is_empty() && !c.cause.is_empty() && !c.fix.is_empty());
            assert!(
                c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                c.code
            );
        }
    }
}
