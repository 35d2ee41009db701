//! What a sign-in would do to the people of an organization, told before it
//! happens: the same rules as the sign-in's write (`store::users`), for the
//! Test step to show.

use super::connections::{RoleRule, matching_rule};

/// The user Gatehouse would sign in, as the store finds them: by the
/// identity provider's subject on the connection, else by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownUser {
    pub email: String,
    /// Known by this subject on this connection already (else found by
    /// email, and linked by the sign-in).
    pub by_subject: bool,
    /// Their role in the organization, if they are a member.
    pub role: Option<String>,
}

/// What happens to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOutcome {
    /// No user has the subject or the email: one is created.
    Created,
    /// The user with this email is linked to the subject.
    Linked { email: String },
    /// The user signed in through this connection before.
    Returning { email: String },
}

/// What a sign-in would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    pub user: UserOutcome,
    /// The role they have in the organization after the sign-in.
    pub role: String,
    /// The rule that gives the role (its position from 0), if one does.
    pub rule: Option<(usize, RoleRule)>,
    /// Their role before, if they are a member already; `None`: they are
    /// added as a member.
    pub previous_role: Option<String>,
}

impl Provisioning {
    /// Whether the sign-in changes a member's role.
    pub fn changes_role(&self) -> bool {
        self.previous_role.as_ref().is_some_and(|p| *p != self.role)
    }
}

/// As the sign-in's write does it: a member's role follows the first rule
/// that matches their groups and stays as it is when none does; someone
/// not (or no longer) a member is added with the matching rule's role, or
/// the organization's default.
pub fn provision(
    known: Option<&KnownUser>,
    rules: &[RoleRule],
    groups: &[String],
    default_role: &str,
) -> Provisioning {
    let rule = matching_rule(rules, groups).map(|(i, r)| (i, r.clone()));
    let mapped = rule.as_ref().map(|(_, r)| r.role.clone());
    let previous_role = known.and_then(|k| k.role.clone());
    let role = match (&previous_role, mapped) {
        (_, Some(mapped)) => mapped,
        (Some(previous), None) => previous.clone(),
        (None, None) => default_role.to_string(),
    };
    let user = match known {
        None => UserOutcome::Created,
        Some(k) if k.by_subject => UserOutcome::Returning {
            email: k.email.clone(),
        },
        Some(k) => UserOutcome::Linked {
            email: k.email.clone(),
        },
    };
    Provisioning {
        user,
        role,
        rule,
        previous_role,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<RoleRule> {
        vec![RoleRule {
            group: "admins".into(),
            role: "admin".into(),
        }]
    }

    fn groups(g: &[&str]) -> Vec<String> {
        g.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_new_person_is_created_with_the_mapped_or_default_role() {
        let p = provision(None, &rules(), &groups(&["Admins"]), "member");
        assert_eq!(p.user, UserOutcome::Created);
        assert_eq!(p.role, "admin");
        assert_eq!(p.rule.as_ref().map(|(i, _)| *i), Some(0));
        assert_eq!(p.previous_role, None);
        let p = provision(None, &rules(), &groups(&["staff"]), "member");
        assert_eq!((p.role.as_str(), p.rule), ("member", None));
    }

    #[test]
    fn a_user_found_by_email_is_linked_and_added() {
        let known = KnownUser {
            email: "alice@acme.test".into(),
            by_subject: false,
            role: None,
        };
        let p = provision(Some(&known), &[], &[], "viewer");
        assert_eq!(
            p.user,
            UserOutcome::Linked {
                email: "alice@acme.test".into()
            }
        );
        assert_eq!(p.role, "viewer");
        assert!(!p.changes_role());
    }

    #[test]
    fn a_member_keeps_their_role_unless_a_rule_matches() {
        let known = KnownUser {
            email: "alice@acme.test".into(),
            by_subject: true,
            role: Some("owner".into()),
        };
        let kept = provision(Some(&known), &rules(), &groups(&["staff"]), "member");
        assert_eq!(kept.role, "owner", "not the default role");
        assert!(!kept.changes_role());
        assert!(matches!(kept.user, UserOutcome::Returning { .. }));
        let changed = provision(Some(&known), &rules(), &groups(&["admins"]), "member");
        assert_eq!(changed.role, "admin");
        assert_eq!(changed.previous_role.as_deref(), Some("owner"));
        assert!(changed.changes_role());
    }
}
