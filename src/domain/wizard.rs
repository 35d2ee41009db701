//! The four steps of the Security tab and how far an organization has got.
//! Later steps fill in `Facts`; the stepper is derived from them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Domains,
    Connection,
    Test,
    Activate,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Domains, Step::Connection, Step::Test, Step::Activate];

    pub fn slug(self) -> &'static str {
        match self {
            Step::Domains => "domains",
            Step::Connection => "connection",
            Step::Test => "test",
            Step::Activate => "activate",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.slug() == slug)
    }

    pub fn number(self) -> usize {
        match self {
            Step::Domains => 1,
            Step::Connection => 2,
            Step::Test => 3,
            Step::Activate => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Step::Domains => "Domains",
            Step::Connection => "Connection",
            Step::Test => "Test",
            Step::Activate => "Activate",
        }
    }

    /// One sentence on what the step is for.
    pub fn summary(self) -> &'static str {
        match self {
            Step::Domains => {
                "Add the email domains your people sign in with, and prove you own them with a DNS TXT record."
            }
            Step::Connection => {
                "Choose your identity provider and exchange the details it and Gatehouse need about each other."
            }
            Step::Test => {
                "Sign in once through your identity provider and check what comes back, before anyone depends on it."
            }
            Step::Activate => {
                "Switch single sign-on on for your domains. You can switch it off again at any time."
            }
        }
    }

    pub fn prev(self) -> Option<Step> {
        Step::ALL.get(self.number().checked_sub(2)?).copied()
    }

    pub fn next(self) -> Option<Step> {
        Step::ALL.get(self.number()).copied()
    }
}

/// How far a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    Todo,
    InProgress,
    Done,
}

impl StepState {
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::Todo => "todo",
            StepState::InProgress => "in-progress",
            StepState::Done => "done",
        }
    }
}

/// What is known about an organization's set-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub verified_domains: usize,
    pub pending_domains: usize,
    pub has_connection: bool,
    pub connection_configured: bool,
    pub test_passed: bool,
    pub active: bool,
}

/// The state and a short status line for a step.
pub fn status(step: Step, f: &Facts) -> (StepState, String) {
    match step {
        Step::Domains => match (f.verified_domains, f.pending_domains) {
            (0, 0) => (StepState::Todo, "Not started".into()),
            (0, p) => (StepState::InProgress, format!("{p} awaiting verification")),
            (1, _) => (StepState::Done, "1 domain verified".into()),
            (v, _) => (StepState::Done, format!("{v} domains verified")),
        },
        Step::Connection => {
            if f.connection_configured {
                (StepState::Done, "Configured".into())
            } else if f.has_connection {
                (StepState::InProgress, "In progress".into())
            } else {
                (StepState::Todo, "Not started".into())
            }
        }
        Step::Test => {
            if f.test_passed {
                (StepState::Done, "Passed".into())
            } else {
                (StepState::Todo, "Not run".into())
            }
        }
        Step::Activate => {
            if f.active {
                (StepState::Done, "Active".into())
            } else {
                (StepState::Todo, "Inactive".into())
            }
        }
    }
}

/// The first step that is not done, where "continue" leads.
pub fn next_step(f: &Facts) -> Step {
    Step::ALL
        .into_iter()
        .find(|s| status(*s, f).0 != StepState::Done)
        .unwrap_or(Step::Activate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_ordered_and_named() {
        assert_eq!(Step::Domains.prev(), None);
        assert_eq!(Step::Domains.next(), Some(Step::Connection));
        assert_eq!(Step::Activate.next(), None);
        assert_eq!(Step::Test.prev(), Some(Step::Connection));
        assert_eq!(Step::from_slug("test"), Some(Step::Test));
        assert_eq!(Step::from_slug("nope"), None);
    }

    #[test]
    fn a_new_organization_starts_at_domains() {
        let f = Facts::default();
        assert_eq!(next_step(&f), Step::Domains);
        assert_eq!(status(Step::Domains, &f).0, StepState::Todo);
    }

    #[test]
    fn progress_moves_the_next_step() {
        let f = Facts {
            verified_domains: 2,
            has_connection: true,
            ..Facts::default()
        };
        assert_eq!(
            status(Step::Domains, &f),
            (StepState::Done, "2 domains verified".into())
        );
        assert_eq!(status(Step::Connection, &f).0, StepState::InProgress);
        assert_eq!(next_step(&f), Step::Connection);
    }
}
