//! Storage: the only place with SQL.
//!
//! Both backends run the same statements (`$N` placeholders work on both), so
//! each query is written once and expanded for the backend in use by the
//! `read!`/`write!` macros. On SQLite, writes go through a single connection
//! so that transactions never race for the write lock inside one process;
//! reads use a few connections of their own (WAL mode lets them run beside a
//! write). See `sqlite` for why these are not sqlx pools.
//!
//! On SQLite the one writer bounds how many sign-ins go through, and it is
//! held for every round trip of a transaction: the statements that write
//! are few, and answer what they changed themselves (`UPDATE … RETURNING`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

use self::sqlite::{JobUnderWay, SqliteConnections, WRITER_CHECKPOINT_PAGES, WriterThread};

use crate::config::DatabaseUrl;

pub mod api_keys;
pub mod branding;
pub mod connection_tests;
pub mod connections;
pub mod domains;
pub mod events;
pub mod links;
pub mod oauth;
pub mod oidc;
pub mod organizations;
pub mod saml;
pub mod sessions;
pub mod settings;
pub(crate) mod sqlite;
pub mod users;
pub mod webhooks;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the name says which.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite {
        read: Arc<SqliteConnections>,
        write: Arc<SqliteConnections>,
        writer_thread: Arc<WriterThread>,
    },
    Postgres(PgPool),
}

/// SQLite connections for reading, opened as needed.
const SQLITE_READERS: usize = 8;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
}

/// Runs `$body` with `$p` bound to a connection for reading (on SQLite,
/// held until `$body` is done) or the pool (on Postgres). `$body` answers a
/// `Result` whose error comes from `sqlx::Error`.
macro_rules! read {
    ($store:expr, |$p:ident| $body:expr) => {
        $crate::store::on_connection!($store, read, |$p| $body)
    };
}

/// Runs `$body` with `$p` bound to the writer: on SQLite the one writing
/// connection (held until `$body` is done), on Postgres the pool. `$body`
/// answers a `Result` whose error comes from `sqlx::Error`.
macro_rules! write {
    ($store:expr, |$p:ident| $body:expr) => {
        $crate::store::on_connection!($store, write, |$p| $body)
    };
}

/// `read!` and `write!`: `$which` names the SQLite connections to hold.
macro_rules! on_connection {
    ($store:expr, $which:ident, |$p:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite { $which, .. } => match $which.acquire().await {
                Ok(mut held) => {
                    #[allow(unused_imports)]
                    use sqlx::Connection as _;
                    let $p = held.conn();
                    let outcome = $body;
                    held.check(&outcome);
                    outcome
                }
                Err(e) => Err(e.into()),
            },
            $crate::store::Backend::Postgres($p) => $body,
        }
    };
}

pub(crate) use {on_connection, read, write};

impl Store {
    pub async fn connect(url: &DatabaseUrl) -> StoreResult<Self> {
        let backend = if url.is_postgres() {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url.expose())
                .await?;
            Backend::Postgres(pool)
        } else {
            let mut options = SqliteConnectOptions::from_str(url.expose())?;
            if !url.names_sqlite_mode() {
                options = options.create_if_missing(true);
            }
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let writer_options = options
                .clone()
                .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_PAGES.to_string());
            let write = SqliteConnections::new(writer_options, 1, Duration::from_secs(10));
            write.open_one().await?;
            let read =
                SqliteConnections::new(options.clone(), SQLITE_READERS, Duration::from_secs(5));
            read.open_one().await?;
            let write = Arc::new(write);
            let writer_thread = WriterThread::start().map_err(sqlx::Error::Io)?;
            writer_thread
                .runtime
                .spawn(sqlite::checkpoints(options, Arc::downgrade(&write)));
            Backend::Sqlite {
                read: Arc::new(read),
                write,
                writer_thread: Arc::new(writer_thread),
            }
        };
        Ok(Self { backend })
    }

    /// Runs `job` (the writes of a sign-in) on SQLite's writer thread.
    ///
    /// Elsewhere, a task that holds the writer shares its thread with
    /// whatever else is ready there, and each statement's answer waits its
    /// turn before the next statement goes out, with the writer held all
    /// along. On the writer's own thread the answer is taken up at once, so
    /// the writer is held for little more than the statements themselves.
    /// The job runs to its end even if the caller stops waiting. On
    /// Postgres it simply runs here.
    pub(crate) async fn on_writer_thread<T, Fut>(
        &self,
        job: impl FnOnce(Store) -> Fut,
    ) -> StoreResult<T>
    where
        Fut: Future<Output = StoreResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite { writer_thread, .. } => {
                let job = job(self.clone());
                let under_way = async move {
                    let _under_way = JobUnderWay::begin();
                    job.await
                };
                match writer_thread.runtime.spawn(under_way).await {
                    Ok(done) => done,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    // The thread has ended: the store was dropped.
                    Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
                }
            }
            Backend::Postgres(_) => job(self.clone()).await,
        }
    }

    /// How far the database's clock is ahead of this machine's (negative:
    /// behind), measured over one round trip; `None` on SQLite, which runs
    /// on this machine's clock.
    pub async fn database_clock_ahead(&self) -> StoreResult<Option<chrono::Duration>> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        // Timed from a connection in hand, not from waiting for one.
        let mut connection = pool.acquire().await?;
        let sent = chrono::Utc::now();
        let (database,): (chrono::DateTime<chrono::Utc>,) =
            sqlx::query_as("SELECT clock_timestamp()")
                .fetch_one(&mut *connection)
                .await?;
        let answered = chrono::Utc::now();
        let here = sent + (answered - sent) / 2;
        Ok(Some(database - here))
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.backend {
            Backend::Sqlite { write, .. } => {
                SQLITE_MIGRATIONS.run(write.acquire().await?.conn()).await?
            }
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers; for `/readyz`.
    pub async fn ping(&self) -> StoreResult<()> {
        read!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write, .. } => {
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

/// One page of a list, newest first, with the cursor for the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: u32, id: impl Fn(&T) -> &str) -> Self {
        let limit = limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|r| id(r).to_string())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }
}

/// Paging request: items with ids below `before`, at most `limit`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub before: Option<String>,
    pub limit: u32,
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Store;
    use crate::config::DatabaseUrl;

    #[tokio::test]
    async fn jobs_on_the_sqlite_writer_thread_run_as_batch_work() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("g.db").display());
        let store = Store::connect(&DatabaseUrl::new(url))
            .await
            .expect("SQLite opens");
        // SAFETY: asks for the calling thread's policy; no memory is shared.
        let policy = store
            .on_writer_thread(|_| async { Ok(unsafe { libc::sched_getscheduler(0) }) })
            .await
            .expect("the job ran");
        assert_eq!(policy, libc::SCHED_BATCH);
        store.close().await;
    }
}
