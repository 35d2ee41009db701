//! People who signed in through SSO: users, their memberships, the
//! identity-provider subjects they are known by, and everything one sign-in
//! writes, in one transaction.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use sqlx::{Column, Row};

use super::events::{EventRow, insert_event, insert_events};
use super::saml::{AssertionUse, Refusal, take_assertion};
use super::{Backend, Page, PageRequest, Store, StoreResult, read, write};
use crate::domain::audit::{ChangeContext, NewEvent};
use crate::domain::provisioning::KnownUser;

/// What a completed SSO sign-in records.
#[derive(Debug, Clone)]
pub struct SignInWrite {
    pub organization_id: String,
    pub connection_id: String,
    /// The identity provider's stable subject for the person.
    pub subject: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// The role the connection's role mapping gives the person's groups,
    /// if any: a new member gets it, and an existing member's role follows
    /// it. Without one a new member gets the organization's default role.
    pub mapped_role: Option<String>,
    /// A fresh user id, used if the person is new.
    pub new_user_id: String,
    pub now: DateTime<Utc>,
    /// The authorization code for the host, if the sign-in came from one:
    /// its hash, client, redirect URI, PKCE challenge, and the ID token's
    /// claims (`sub` and `org_role` are filled in here).
    pub code: Option<CodeWrite>,
    /// A SAML sign-in's assertion, accepted in the same transaction.
    pub assertion: Option<AssertionUse>,
}

#[derive(Debug, Clone)]
pub struct CodeWrite {
    pub code_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub claims: Map<String, Value>,
    pub expires_at: DateTime<Utc>,
}

/// Who signed in, and what was new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRecorded {
    pub user_id: String,
    pub role: String,
    pub user_created: bool,
    pub membership_created: bool,
}

/// `sqlite_member_sign_in`'s batch. Its parameters: the connection, the
/// subject, the time, the names, the organization and the mapped role; the
/// code's hash, client, redirect URI, challenge, claims (less `sub` and
/// `org_role`, filled in here) and expiry; and the event's id, actor type,
/// id and label, data and request.
/// Every change is made only if the subject's user is a member, so that
/// without a membership the batch changes nothing and answers no row.
macro_rules! member_sign_in {
    () => {
        "\
    UPDATE sso_identities SET last_login_at = $3 \
     WHERE connection_id = $1 AND subject = $2 AND EXISTS (SELECT 1 FROM memberships m \
      WHERE m.organization_id = $6 AND m.user_id = sso_identities.user_id); \
    UPDATE users SET first_name = COALESCE($4, first_name), \
     last_name = COALESCE($5, last_name), updated_at = $3 \
     WHERE id = (SELECT i.user_id FROM sso_identities i JOIN memberships m \
      ON m.organization_id = $6 AND m.user_id = i.user_id \
      WHERE i.connection_id = $1 AND i.subject = $2); \
    UPDATE memberships SET last_login_at = $3, role = COALESCE($7, role) \
     WHERE organization_id = $6 AND user_id = (SELECT user_id FROM sso_identities \
      WHERE connection_id = $1 AND subject = $2); \
    INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, code_challenge, claims, \
     created_at, expires_at) \
     SELECT $8, $9, $10, $11, json_set($12, '$.sub', m.user_id, '$.org_role', m.role), $3, $13 \
     FROM sso_identities i JOIN memberships m ON m.organization_id = $6 AND m.user_id = i.user_id \
     WHERE i.connection_id = $1 AND i.subject = $2; \
    INSERT INTO audit_events (id, organization_id, actor_type, actor_id, actor_label, action, \
     target_type, target_id, data, request_id, created_at) \
     SELECT $14, $6, $15, $16, $17, 'sign_in.succeeded', 'user', i.user_id, $18, $19, $3 \
     FROM sso_identities i JOIN memberships m ON m.organization_id = $6 AND m.user_id = i.user_id \
     WHERE i.connection_id = $1 AND i.subject = $2; \
    SELECT i.user_id, m.role FROM sso_identities i JOIN memberships m \
     ON m.organization_id = $6 AND m.user_id = i.user_id \
     WHERE i.connection_id = $1 AND i.subject = $2; \
"
    };
}
const MEMBER_SIGN_IN: &str = concat!("BEGIN; ", member_sign_in!(), " COMMIT");
/// The same, after the statements of an assertion's use (`$20` to `$24`:
/// the connection, the assertion's ID and expiry, the flow, the time; as
/// `take_assertion`'s), each of which answers a row if it changed one. The
/// transaction is left open, for the caller to commit only if both did.
const ACCEPTED_MEMBER_SIGN_IN: &str = concat!(
    "BEGIN; \
    INSERT INTO saml_assertion_ids (connection_id, assertion_id, expires_at) \
     VALUES ($20, $21, $22) ON CONFLICT DO NOTHING RETURNING 1 AS assertion_remembered; \
    UPDATE saml_requests SET used_at = $24 WHERE id = $23 AND used_at IS NULL \
     RETURNING 1 AS flow_taken; ",
    member_sign_in!()
);

/// What `ACCEPTED_MEMBER_SIGN_IN` (or `MEMBER_SIGN_IN`) answered.
#[derive(Default)]
struct BatchRows {
    remembered: bool,
    flow_taken: bool,
    /// The member's user id and role.
    member: Option<(String, String)>,
}

impl From<(String, String)> for SignInRecorded {
    /// A returning member's: nothing new.
    fn from((user_id, role): (String, String)) -> Self {
        Self {
            user_id,
            role,
            user_created: false,
            membership_created: false,
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Member {
    pub user_id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: String,
    pub source: String,
    pub joined_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

const MEMBER_SELECT: &str = "SELECT m.user_id, u.email, u.first_name, u.last_name, m.role, m.source, \
     m.joined_at, m.last_login_at FROM memberships m JOIN users u ON u.id = m.user_id";

fn event(
    organization_id: &str,
    action: &'static str,
    target_type: &'static str,
    target_id: &str,
    data: Value,
) -> NewEvent {
    NewEvent {
        organization_id: Some(organization_id.to_string()),
        previous_organization_id: None,
        action,
        target_type,
        target_id: target_id.to_string(),
        data,
    }
}

/// What `sqlite_member_sign_in`'s batch did.
enum MemberBatch {
    /// The sign-in is recorded, or its assertion refused (nothing changed).
    Done(Result<SignInRecorded, Refusal>),
    /// The person is not (or no longer) a member: only the assertion's use
    /// was recorded, if there was one (`accepted`); the rest is left to
    /// `write_sign_in`.
    NotMember { accepted: bool },
}

impl Store {
    /// Just-in-time provisioning: the user known by this subject, else the
    /// one with this email (linked), else a new one; the membership, added
    /// with the default role if missing (a removed member rejoins); the
    /// login times; the host's authorization code; and the audit events.
    /// A SAML sign-in's assertion is accepted in the same transaction
    /// (`SignInWrite::assertion`): refused, nothing is written.
    pub async fn record_sign_in(
        &self,
        w: &SignInWrite,
        ctx: &ChangeContext,
    ) -> StoreResult<Result<SignInRecorded, Refusal>> {
        let (w, ctx) = (w.clone(), ctx.clone());
        self.on_writer_thread(move |store| async move {
            let take = match store.sqlite_member_sign_in(&w, &ctx).await? {
                Some(MemberBatch::Done(done)) => return Ok(done),
                Some(MemberBatch::NotMember { accepted: true }) => None,
                Some(MemberBatch::NotMember { accepted: false }) | None => w.assertion.as_ref(),
            };
            store.write_sign_in(&w, &ctx, take).await
        })
        .await
    }

    /// On SQLite, the sign-in of a returning member (the usual case) in
    /// one round trip, two with an assertion to accept: the same changes
    /// as `write_sign_in`'s, as one batch of statements in one transaction,
    /// each of which changes nothing unless the subject's user is a member
    /// already. `None` on Postgres, which takes no batches (and no writer
    /// is held there).
    async fn sqlite_member_sign_in(
        &self,
        w: &SignInWrite,
        ctx: &ChangeContext,
    ) -> StoreResult<Option<MemberBatch>> {
        let (Backend::Sqlite { write, .. }, Some(code)) = (&self.backend, &w.code) else {
            return Ok(None);
        };
        let event = EventRow::new(
            ctx,
            event(
                &w.organization_id,
                "sign_in.succeeded",
                "user",
                "",
                json!({ "connection_id": w.connection_id, "email": w.email }),
            ),
            w.now,
        );
        let mut held = write.acquire().await?;
        let conn = held.conn();
        let assertion = w.assertion.as_ref();
        let batch = sqlx::query(match assertion {
            Some(_) => ACCEPTED_MEMBER_SIGN_IN,
            None => MEMBER_SIGN_IN,
        })
        .bind(&w.connection_id)
        .bind(&w.subject)
        .bind(w.now)
        .bind(&w.first_name)
        .bind(&w.last_name)
        .bind(&w.organization_id)
        .bind(&w.mapped_role)
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(Value::Object(code.claims.clone()).to_string())
        .bind(code.expires_at)
        .bind(event.id)
        .bind(event.actor_type)
        .bind(event.actor_id)
        .bind(event.actor_label)
        .bind(event.data)
        .bind(event.request_id);
        let batch = match assertion {
            Some(a) => batch
                .bind(&a.connection_id)
                .bind(&a.assertion_id)
                .bind(a.expires_at)
                .bind(&a.flow_id)
                .bind(a.now),
            None => batch,
        };
        let answered = batch.fetch_all(&mut *conn).await.and_then(|rows| {
            let mut read = BatchRows::default();
            for row in rows {
                match row.columns().first().map(|c| c.name()) {
                    Some("assertion_remembered") => read.remembered = true,
                    Some("flow_taken") => read.flow_taken = true,
                    _ => read.member = Some((row.try_get(0)?, row.try_get(1)?)),
                }
            }
            Ok(read)
        });
        let outcome = match (answered, assertion) {
            (Err(e), _) => Err(e),
            (Ok(read), None) => Ok(read
                .member
                .map_or(MemberBatch::NotMember { accepted: false }, |m| {
                    MemberBatch::Done(Ok(m.into()))
                })),
            // The batch's transaction is still open: committed only if the
            // assertion was accepted.
            (Ok(read), Some(a)) => {
                let refusal = if !read.remembered {
                    Some(Refusal::Replayed)
                } else if a.flow_id.is_some() && !read.flow_taken {
                    Some(Refusal::FlowUsed)
                } else {
                    None
                };
                let end = if refusal.is_some() {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                sqlx::query(end)
                    .execute(&mut *conn)
                    .await
                    .map(|_| match (refusal, read.member) {
                        (Some(refusal), _) => MemberBatch::Done(Err(refusal)),
                        (None, Some(m)) => MemberBatch::Done(Ok(m.into())),
                        (None, None) => MemberBatch::NotMember { accepted: true },
                    })
            }
        };
        match outcome {
            Ok(done) => Ok(Some(done)),
            Err(e) => {
                // The batch stopped part-way, inside its transaction.
                held.roll_back_failed_batch().await;
                Err(e.into())
            }
        }
    }

    /// The sign-in of a person who may be new, or not (or no longer) a
    /// member: any backend.
    async fn write_sign_in(
        &self,
        w: &SignInWrite,
        ctx: &ChangeContext,
        assertion: Option<&AssertionUse>,
    ) -> StoreResult<Result<SignInRecorded, Refusal>> {
        // Statements are few and answer what they change (`RETURNING`):
        // on SQLite the one writer is held for every round trip.
        write!(self, |p| async {
            let mut tx = p.begin().await?;
            if let Some(assertion) = assertion
                && let Err(refusal) = take_assertion!(tx, assertion).await?
            {
                // Dropped, the transaction rolls back.
                return Ok(Err(refusal));
            }
            // A returning person: their login time, and who they are.
            let known: Option<String> = sqlx::query_scalar(
                "UPDATE sso_identities SET last_login_at = $3 \
                 WHERE connection_id = $1 AND subject = $2 RETURNING user_id",
            )
            .bind(&w.connection_id)
            .bind(&w.subject)
            .bind(w.now)
            .fetch_optional(&mut *tx)
            .await?;
            let mut user_created = false;
            let user_id = match known {
                Some(id) => id,
                None => {
                    user_created = sqlx::query(
                        "INSERT INTO users (id, email, first_name, last_name, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (email) DO NOTHING",
                    )
                    .bind(&w.new_user_id)
                    .bind(&w.email)
                    .bind(&w.first_name)
                    .bind(&w.last_name)
                    .bind(w.now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                        == 1;
                    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
                        .bind(&w.email)
                        .fetch_one(&mut *tx)
                        .await?;
                    // Another instance may have linked the subject a moment
                    // ago: then only the login time is ours.
                    sqlx::query(
                        "INSERT INTO sso_identities (connection_id, subject, user_id, created_at, last_login_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (connection_id, subject) \
                         DO UPDATE SET last_login_at = excluded.last_login_at",
                    )
                    .bind(&w.connection_id)
                    .bind(&w.subject)
                    .bind(&id)
                    .bind(w.now)
                    .execute(&mut *tx)
                    .await?;
                    id
                }
            };
            // The identity provider's word on names is the latest (a user
            // made just now has them already).
            if !user_created {
                sqlx::query(
                    "UPDATE users SET first_name = COALESCE($2, first_name), \
                     last_name = COALESCE($3, last_name), updated_at = $4 WHERE id = $1",
                )
                .bind(&user_id)
                .bind(&w.first_name)
                .bind(&w.last_name)
                .bind(w.now)
                .execute(&mut *tx)
                .await?;
            }
            // A member: the login time, and the role if it follows the
            // groups. Not (or no longer) a member: added with the mapped
            // role, or else the organization's default.
            let update_membership = || {
                sqlx::query_scalar(
                    "UPDATE memberships SET last_login_at = $3, role = COALESCE($4, role) \
                     WHERE organization_id = $1 AND user_id = $2 RETURNING role",
                )
                .bind(&w.organization_id)
                .bind(&user_id)
                .bind(w.now)
                .bind(&w.mapped_role)
            };
            let member: Option<String> = update_membership().fetch_optional(&mut *tx).await?;
            let (role, membership_created) = match member {
                Some(role) => (role, false),
                None => {
                    let added: Option<String> = sqlx::query_scalar(
                        "INSERT INTO memberships (organization_id, user_id, role, source, joined_at, last_login_at) \
                         SELECT $1, $2, COALESCE($3, o.default_role), 'sso', $4, $4 \
                         FROM organizations o WHERE o.id = $1 \
                         ON CONFLICT (organization_id, user_id) DO NOTHING RETURNING role",
                    )
                    .bind(&w.organization_id)
                    .bind(&user_id)
                    .bind(&w.mapped_role)
                    .bind(w.now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if let Some(role) = added {
                        (role, true)
                    } else {
                        // Added by a concurrent sign-in on another instance.
                        (update_membership().fetch_one(&mut *tx).await?, false)
                    }
                }
            };
            if let Some(code) = &w.code {
                let mut claims = code.claims.clone();
                claims.insert("sub".into(), json!(user_id));
                claims.insert("org_role".into(), json!(role));
                sqlx::query(
                    "INSERT INTO oauth_codes (code_hash, client_id, redirect_uri, code_challenge, claims, \
                     created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&code.code_hash)
                .bind(&code.client_id)
                .bind(&code.redirect_uri)
                .bind(&code.code_challenge)
                .bind(Value::Object(claims).to_string())
                .bind(w.now)
                .bind(code.expires_at)
                .execute(&mut *tx)
                .await?;
            }
            let org = &w.organization_id;
            let mut events = Vec::with_capacity(3);
            if user_created {
                events.push(EventRow::new(
                    ctx,
                    event(org, "user.created", "user", &user_id, json!({ "email": w.email })),
                    w.now,
                ));
            }
            if membership_created {
                events.push(EventRow::new(
                    ctx,
                    event(org, "membership.created", "user", &user_id, json!({ "role": role, "source": "sso" })),
                    w.now,
                ));
            }
            events.push(EventRow::new(
                ctx,
                event(org, "sign_in.succeeded", "user", &user_id, json!({ "connection_id": w.connection_id, "email": w.email })),
                w.now,
            ));
            insert_events!(&mut *tx, events)?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(Ok(SignInRecorded {
                user_id,
                role,
                user_created,
                membership_created,
            }))
        }
        .await)
        .map_err(Into::into)
    }

    /// The user a sign-in would take, found as `write_sign_in` finds them:
    /// by the subject on the connection, else by the email; with their role
    /// in the organization if they are a member. Nothing is written.
    pub async fn find_sign_in_user(
        &self,
        connection_id: &str,
        subject: &str,
        email: &str,
        organization_id: &str,
    ) -> StoreResult<Option<KnownUser>> {
        let by_subject: Option<(String, Option<String>)> = read!(self, |p| sqlx::query_as(
            "SELECT u.email, m.role FROM sso_identities i JOIN users u ON u.id = i.user_id \
             LEFT JOIN memberships m ON m.organization_id = $3 AND m.user_id = u.id \
             WHERE i.connection_id = $1 AND i.subject = $2"
        )
        .bind(connection_id)
        .bind(subject)
        .bind(organization_id)
        .fetch_optional(p)
        .await)?;
        if let Some((email, role)) = by_subject {
            return Ok(Some(KnownUser {
                email,
                by_subject: true,
                role,
            }));
        }
        let by_email: Option<(String, Option<String>)> = read!(self, |p| sqlx::query_as(
            "SELECT u.email, m.role FROM users u \
             LEFT JOIN memberships m ON m.organization_id = $2 AND m.user_id = u.id \
             WHERE u.email = $1"
        )
        .bind(email)
        .bind(organization_id)
        .fetch_optional(p)
        .await)?;
        Ok(by_email.map(|(email, role)| KnownUser {
            email,
            by_subject: false,
            role,
        }))
    }

    /// An organization's members, newest user first, a page at a time.
    pub async fn list_members(
        &self,
        organization_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Member>> {
        let sql = format!(
            "{MEMBER_SELECT} WHERE m.organization_id = $1 AND ($2 IS NULL OR m.user_id < $2) \
             ORDER BY m.user_id DESC LIMIT $3"
        );
        let rows: Vec<Member> = read!(self, |p| sqlx::query_as(&sql)
            .bind(organization_id)
            .bind(page.before.as_deref())
            .bind(i64::from(page.limit) + 1)
            .fetch_all(p)
            .await)?;
        Ok(Page::from_rows(rows, page.limit, |m: &Member| &m.user_id))
    }

    pub async fn get_member(
        &self,
        organization_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<Member>> {
        let sql = format!("{MEMBER_SELECT} WHERE m.organization_id = $1 AND m.user_id = $2");
        Ok(read!(self, |p| sqlx::query_as(&sql)
            .bind(organization_id)
            .bind(user_id)
            .fetch_optional(p)
            .await)?)
    }

    /// Removes a member (the user stays); false if there was no such member.
    pub async fn remove_member(
        &self,
        organization_id: &str,
        user_id: &str,
        ctx: &ChangeContext,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = write!(self, |p| async {
            let mut tx = p.begin().await?;
            let done =
                sqlx::query("DELETE FROM memberships WHERE organization_id = $1 AND user_id = $2")
                    .bind(organization_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if done == 1 {
                insert_event!(
                    &mut *tx,
                    EventRow::new(
                        ctx,
                        event(
                            organization_id,
                            "membership.removed",
                            "user",
                            user_id,
                            json!({})
                        ),
                        now
                    )
                )?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }
        .await)?;
        Ok(done == 1)
    }

    /// The latest SSO sign-in and how many members joined through SSO.
    pub async fn sso_activity(
        &self,
        organization_id: &str,
    ) -> StoreResult<(Option<DateTime<Utc>>, i64)> {
        Ok(read!(self, |p| sqlx::query_as(
            "SELECT MAX(last_login_at), COUNT(*) FROM memberships \
             WHERE organization_id = $1 AND source = 'sso'"
        )
        .bind(organization_id)
        .fetch_one(p)
        .await)?)
    }
}
