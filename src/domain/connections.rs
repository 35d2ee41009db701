//! SSO connections: which identity provider an organization uses, and the
//! lifecycle `draft → tested → active ⇄ inactive` as plain rules.

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Saml,
    Oidc,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Saml => "saml",
            Protocol::Oidc => "oidc",
        }
    }
}

/// Every identity provider the catalogue knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Okta,
    GoogleWorkspace,
    EntraId,
    OneLogin,
    JumpCloud,
    PingOne,
    Adfs,
    Keycloak,
    Auth0,
    CustomSaml,
    OktaOidc,
    GoogleWorkspaceOidc,
    EntraIdOidc,
    CustomOidc,
}

impl Provider {
    pub const ALL: [Provider; 14] = [
        Provider::Okta,
        Provider::GoogleWorkspace,
        Provider::EntraId,
        Provider::OneLogin,
        Provider::JumpCloud,
        Provider::PingOne,
        Provider::Adfs,
        Provider::Keycloak,
        Provider::Auth0,
        Provider::CustomSaml,
        Provider::OktaOidc,
        Provider::GoogleWorkspaceOidc,
        Provider::EntraIdOidc,
        Provider::CustomOidc,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Okta => "okta",
            Provider::GoogleWorkspace => "google_workspace",
            Provider::EntraId => "entra_id",
            Provider::OneLogin => "onelogin",
            Provider::JumpCloud => "jumpcloud",
            Provider::PingOne => "pingone",
            Provider::Adfs => "adfs",
            Provider::Keycloak => "keycloak",
            Provider::Auth0 => "auth0",
            Provider::CustomSaml => "custom_saml",
            Provider::OktaOidc => "okta_oidc",
            Provider::GoogleWorkspaceOidc => "google_workspace_oidc",
            Provider::EntraIdOidc => "entra_id_oidc",
            Provider::CustomOidc => "custom_oidc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    pub fn protocol(self) -> Protocol {
        match self {
            Provider::OktaOidc
            | Provider::GoogleWorkspaceOidc
            | Provider::EntraIdOidc
            | Provider::CustomOidc => Protocol::Oidc,
            _ => Protocol::Saml,
        }
    }

    /// The name admins know the provider by.
    pub fn display_name(self) -> &'static str {
        match self {
            Provider::Okta => "Okta Workforce",
            Provider::GoogleWorkspace => "Google Workspace",
            Provider::EntraId => "Microsoft Entra ID",
            Provider::OneLogin => "OneLogin",
            Provider::JumpCloud => "JumpCloud",
            Provider::PingOne => "PingOne",
            Provider::Adfs => "AD FS",
            Provider::Keycloak => "Keycloak",
            Provider::Auth0 => "Auth0",
            Provider::CustomSaml => "Custom SAML",
            Provider::OktaOidc => "Okta Workforce (OpenID Connect)",
            Provider::GoogleWorkspaceOidc => "Google Workspace (OpenID Connect)",
            Provider::EntraIdOidc => "Microsoft Entra ID (OpenID Connect)",
            Provider::CustomOidc => "Custom OpenID Connect",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Provider chosen; configuration incomplete or not tested.
    Draft,
    /// A test sign-in passed on the current configuration version.
    Tested,
    /// Live: matching users sign in through it.
    Active,
    /// Switched off; users fall back to the host's other sign-in methods.
    Inactive,
}

impl State {
    /// As the Security tab shows it.
    pub fn label(self) -> &'static str {
        match self {
            State::Draft => "Draft",
            State::Tested => "Tested",
            State::Active => "Active",
            State::Inactive => "Inactive",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Tested => "tested",
            State::Active => "active",
            State::Inactive => "inactive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(State::Draft),
            "tested" => Some(State::Tested),
            "active" => Some(State::Active),
            "inactive" => Some(State::Inactive),
            _ => None,
        }
    }
}

/// The lifecycle facts of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifecycle {
    pub state: State,
    /// Bumped by every change of the identity-provider settings.
    pub config_version: i64,
    /// The version a test last passed on, if any.
    pub tested_version: Option<i64>,
    /// The version sign-ins use while active.
    pub live_version: Option<i64>,
}

impl Lifecycle {
    pub fn new() -> Self {
        Self {
            state: State::Draft,
            config_version: 1,
            tested_version: None,
            live_version: None,
        }
    }

    /// After the identity-provider settings change: a new version that has
    /// not been tested, so a draft again. An active connection stays active
    /// on its live version until the new one is tested and activated: a
    /// typo never locks people out.
    pub fn after_config_change(self) -> Self {
        Self {
            state: match self.state {
                State::Active => State::Active,
                State::Draft | State::Tested | State::Inactive => State::Draft,
            },
            config_version: self.config_version + 1,
            ..self
        }
    }

    /// After a passing test on `version`.
    pub fn after_test_passed(self, version: i64) -> Self {
        let state = match self.state {
            State::Draft | State::Tested if version == self.config_version => State::Tested,
            other => other,
        };
        Self {
            state,
            tested_version: Some(version),
            ..self
        }
    }

    /// Whether the current configuration differs from what is live.
    pub fn has_unreleased_changes(&self) -> bool {
        self.state == State::Active && self.live_version != Some(self.config_version)
    }

    /// Activation: needs a passing test on the current version (unless the
    /// host explicitly skips it), complete settings, and a verified SSO
    /// domain to sign in with.
    pub fn activate(
        self,
        complete: bool,
        verified_sso_domains: usize,
        skip_test: bool,
    ) -> Result<Self, ActivationRefusal> {
        if !complete {
            return Err(ActivationRefusal::Incomplete);
        }
        if verified_sso_domains == 0 {
            return Err(ActivationRefusal::NoVerifiedDomain);
        }
        if !skip_test && self.tested_version != Some(self.config_version) {
            return Err(ActivationRefusal::NotTested);
        }
        Ok(Self {
            state: State::Active,
            live_version: Some(self.config_version),
            ..self
        })
    }

    pub fn deactivate(self) -> Self {
        let state = match self.state {
            State::Active => State::Inactive,
            other => other,
        };
        Self { state, ..self }
    }
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationRefusal {
    Incomplete,
    NoVerifiedDomain,
    NotTested,
}

impl ActivationRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ActivationRefusal::Incomplete => "connection_incomplete",
            ActivationRefusal::NoVerifiedDomain => "domain_not_verified",
            ActivationRefusal::NotTested => "connection_not_tested",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            ActivationRefusal::Incomplete => {
                "The identity provider's settings are not complete yet; finish the connection step first."
            }
            ActivationRefusal::NoVerifiedDomain => {
                "Verify at least one domain used for single sign-on first: without one, nobody could sign in through this connection."
            }
            ActivationRefusal::NotTested => {
                "Run a successful test sign-in on the current settings first. The settings changed since the last passing test, or no test has passed yet."
            }
        }
    }
}

/// One rule of a connection's role mapping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RoleRule {
    pub group: String,
    pub role: String,
}

/// The role a person with these groups gets: the first rule whose group
/// they are in (compared without case), else none.
pub fn mapped_role<'a>(rules: &'a [RoleRule], groups: &[String]) -> Option<&'a str> {
    matching_rule(rules, groups).map(|(_, r)| r.role.as_str())
}

/// The first rule whose group the person is in (compared without case),
/// with its position (from 0): the one `mapped_role` applies.
pub fn matching_rule<'a>(
    rules: &'a [RoleRule],
    groups: &[String],
) -> Option<(usize, &'a RoleRule)> {
    rules
        .iter()
        .enumerate()
        .find(|(_, r)| groups.iter().any(|g| g.eq_ignore_ascii_case(&r.group)))
}

/// A connection, whatever its protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    pub id: String,
    pub organization_id: String,
    pub provider: Provider,
    pub lifecycle: Lifecycle,
    pub allow_subdomains: bool,
    pub allow_idp_initiated: bool,
    /// Organization roles from identity-provider groups, first match wins.
    pub role_mapping: Vec<RoleRule>,
    /// The protocol settings (JSON), current version.
    pub config: serde_json::Value,
    /// The settings sign-ins use while active.
    pub live_config: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl Connection {
    pub fn protocol(&self) -> Protocol {
        self.provider.protocol()
    }

    pub fn state(&self) -> State {
        self.lifecycle.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_round_trip_and_know_their_protocol() {
        for p in Provider::ALL {
            assert_eq!(Provider::parse(p.as_str()), Some(p));
        }
        assert_eq!(Provider::Okta.protocol(), Protocol::Saml);
        assert_eq!(Provider::EntraIdOidc.protocol(), Protocol::Oidc);
        assert_eq!(Provider::parse("okta_saml"), None);
    }

    #[test]
    fn activation_needs_a_test_on_the_current_version() {
        let l = Lifecycle::new();
        assert_eq!(
            l.activate(true, 1, false),
            Err(ActivationRefusal::NotTested)
        );
        let tested = l.after_test_passed(1);
        assert_eq!(tested.state, State::Tested);
        let active = tested.activate(true, 1, false).expect("activates");
        assert_eq!(active.state, State::Active);
        assert_eq!(active.live_version, Some(1));
        assert_eq!(
            l.activate(true, 1, true).map(|a| a.state),
            Ok(State::Active),
            "the host may skip"
        );
    }

    #[test]
    fn activation_needs_settings_and_a_verified_domain() {
        let tested = Lifecycle::new().after_test_passed(1);
        assert_eq!(
            tested.activate(false, 1, false),
            Err(ActivationRefusal::Incomplete)
        );
        assert_eq!(
            tested.activate(true, 0, true),
            Err(ActivationRefusal::NoVerifiedDomain)
        );
    }

    #[test]
    fn a_change_sends_a_tested_connection_back_to_draft() {
        let changed = Lifecycle::new().after_test_passed(1).after_config_change();
        assert_eq!(changed.state, State::Draft);
        assert_eq!(changed.config_version, 2);
        assert_eq!(
            changed.activate(true, 1, false),
            Err(ActivationRefusal::NotTested)
        );
        let stale_test = changed.after_test_passed(1);
        assert_eq!(
            stale_test.state,
            State::Draft,
            "a test counts for the version it ran on"
        );
    }

    #[test]
    fn an_active_connection_keeps_serving_its_live_version_after_a_change() {
        let active = Lifecycle::new()
            .after_test_passed(1)
            .activate(true, 1, false)
            .expect("active");
        let changed = active.after_config_change();
        assert_eq!(changed.state, State::Active);
        assert_eq!(changed.live_version, Some(1));
        assert!(changed.has_unreleased_changes());
        let released = changed
            .after_test_passed(2)
            .activate(true, 1, false)
            .expect("activates");
        assert_eq!(released.live_version, Some(2));
        assert!(!released.has_unreleased_changes());
    }

    #[test]
    fn the_first_matching_rule_wins_without_regard_to_case() {
        let rules = vec![
            RoleRule {
                group: "Admins".into(),
                role: "admin".into(),
            },
            RoleRule {
                group: "staff".into(),
                role: "member".into(),
            },
        ];
        let groups = |g: &[&str]| g.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            matching_rule(&rules, &groups(&["staff", "admins"])).map(|(i, _)| i),
            Some(0)
        );
        assert_eq!(mapped_role(&rules, &groups(&["STAFF"])), Some("member"));
        assert_eq!(mapped_role(&rules, &groups(&["others"])), None);
        assert_eq!(mapped_role(&[], &groups(&["admins"])), None);
    }

    #[test]
    fn deactivation_and_reactivation() {
        let active = Lifecycle::new().activate(true, 1, true).expect("active");
        let inactive = active.deactivate();
        assert_eq!(inactive.state, State::Inactive);
        assert_eq!(
            Lifecycle::new().deactivate().state,
            State::Draft,
            "only active connections deactivate"
        );
        assert_eq!(
            inactive.activate(true, 1, true).map(|l| l.state),
            Ok(State::Active)
        );
    }

    #[test]
    fn an_inactive_connection_whose_settings_change_is_a_draft_again() {
        let inactive = Lifecycle::new()
            .after_test_passed(1)
            .activate(true, 1, false)
            .expect("active")
            .deactivate();
        let changed = inactive.after_config_change();
        assert_eq!(changed.state, State::Draft);
        assert_eq!(
            changed.activate(true, 1, false),
            Err(ActivationRefusal::NotTested)
        );
        assert_eq!(changed.after_test_passed(2).state, State::Tested);
    }
}
