//! SQLite's connections: one writer and a few readers, each handed to one
//! user at a time.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every
//! statement is a round trip between threads, and the writer is held for
//! all the round trips of a transaction. sqlx's pool adds two more per use
//! (it pings a connection when it hands it out, and again, from a spawned
//! task, before taking it back) and keeps the writer from the next user
//! until that task has run. An embedded database has no link that could
//! drop, so these connections are handed out and taken back without a
//! word; one whose thread has died is replaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::Semaphore;

/// Up to `max` connections, opened when first needed, first come first
/// served.
#[derive(Debug)]
pub(crate) struct SqliteConnections {
    options: SqliteConnectOptions,
    idle: Mutex<Vec<SqliteConnection>>,
    /// One permit per connection that may be handed out now.
    free: Semaphore,
    timeout: Duration,
    /// How many times a connection has been handed out.
    handed_out: AtomicU64,
}

/// A connection, held; given back when dropped.
pub(crate) struct Held<'a> {
    from: &'a SqliteConnections,
    /// Taken only on drop.
    conn: Option<SqliteConnection>,
    /// Closed on drop rather than given back.
    discarded: bool,
}

impl SqliteConnections {
    pub(crate) fn new(options: SqliteConnectOptions, max: usize, timeout: Duration) -> Self {
        Self {
            options,
            idle: Mutex::new(Vec::with_capacity(max)),
            free: Semaphore::new(max),
            timeout,
            handed_out: AtomicU64::new(0),
        }
    }

    /// Opens one connection now (to create the database, and fail early).
    pub(crate) async fn open_one(&self) -> Result<(), sqlx::Error> {
        let held = self.acquire().await?;
        drop(held);
        Ok(())
    }

    pub(crate) async fn acquire(&self) -> Result<Held<'_>, sqlx::Error> {
        let permit = tokio::time::timeout(self.timeout, self.free.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            // If this is cancelled, the permit goes back as it drops.
            None => self.options.connect().await?,
        };
        permit.forget();
        self.handed_out.fetch_add(1, Ordering::Relaxed);
        Ok(Held {
            from: self,
            conn: Some(conn),
            discarded: false,
        })
    }

    /// No more connections are handed out; the idle ones are closed.
    pub(crate) async fn close(&self) {
        self.free.close();
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        for conn in idle {
            let _ = conn.close().await;
        }
    }
}

impl Held<'_> {
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("the connection is taken only on drop"),
        }
    }

    /// Drops the connection instead of giving it back (the next user gets
    /// a new one).
    pub(crate) fn discard(&mut self) {
        self.discarded = true;
    }

    /// After a batch of statements failed part-way, perhaps inside its
    /// transaction: rolls that back, or drops the connection if it cannot.
    pub(crate) async fn roll_back_failed_batch(&mut self) {
        let undone = sqlx::query("ROLLBACK").execute(&mut *self.conn()).await;
        if let Err(undo) = &undone
            && !undo.to_string().contains("no transaction is active")
        {
            tracing::error!(error = %undo, "rolling back a failed batch failed; dropping the connection");
            self.discard();
        }
    }

    /// Drops the connection instead of giving it back if its thread has
    /// died (the next user gets a new one).
    pub(crate) fn check<T: Outcome>(&mut self, outcome: &T) {
        if outcome.worker_died() {
            tracing::warn!("an SQLite connection's thread has died; opening another");
            self.discard();
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !self.discarded
            && !self.from.free.is_closed()
        {
            self.from
                .idle
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        self.from.free.add_permits(1);
    }
}

/// What a statement answered, as far as the connection's health goes.
pub(crate) trait Outcome {
    fn worker_died(&self) -> bool;
}

impl<T> Outcome for Result<T, sqlx::Error> {
    fn worker_died(&self) -> bool {
        matches!(self, Err(sqlx::Error::WorkerCrashed))
    }
}

impl<T> Outcome for Result<T, super::StoreError> {
    fn worker_died(&self) -> bool {
        matches!(
            self,
            Err(super::StoreError::Database(sqlx::Error::WorkerCrashed))
        )
    }
}

/// A thread for the writes of sign-ins (`Store::on_writer_thread`), ended
/// when this is dropped.
#[derive(Debug)]
pub(crate) struct WriterThread {
    pub(crate) runtime: tokio::runtime::Handle,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl WriterThread {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                })
            })?;
        Ok(Self {
            runtime: handle,
            _stop: stop,
        })
    }
}

thread_local! {
    /// How many jobs the writer thread has under way.
    static JOBS_UNDER_WAY: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Held by each job on the writer thread (`Store::on_writer_thread`).
/// While any is, Linux schedules the thread as a batch thread: woken, it
/// waits for its turn rather than taking the core from the thread that
/// woke it. Its share of the processor is unchanged. Idle, it is an
/// ordinary thread again, so a job arriving gets to it at once.
///
/// Under way, a job is woken by every answer from the writer connection's
/// own thread: one per statement of a batch. Taking the core from that
/// thread at each answer cost two context switches per statement, half of
/// all of a sign-in's (measured with `/proc/<pid>/task/*/status` during
/// `benches/sign_in.rs`: 33 switches per sign-in before, 16-21 after).
/// Woken without that, it finds the batch's answers waiting together.
pub(crate) struct JobUnderWay(());

impl JobUnderWay {
    pub(crate) fn begin() -> Self {
        if JOBS_UNDER_WAY.replace(JOBS_UNDER_WAY.get() + 1) == 0 {
            set_policy(Policy::Batch);
        }
        Self(())
    }
}

impl Drop for JobUnderWay {
    fn drop(&mut self) {
        let left = JOBS_UNDER_WAY.get().saturating_sub(1);
        JOBS_UNDER_WAY.set(left);
        if left == 0 {
            set_policy(Policy::Normal);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Normal,
    Batch,
}

/// Sets the calling thread's scheduling policy, where Linux has them.
fn set_policy(policy: Policy) {
    #[cfg(target_os = "linux")]
    {
        let which = match policy {
            Policy::Normal => libc::SCHED_OTHER,
            Policy::Batch => libc::SCHED_BATCH,
        };
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: changes the policy of the calling thread only (pid 0);
        // `param` outlives the call. Any user may switch between these two.
        let failed = unsafe { libc::sched_setscheduler(0, which, &param) } != 0;
        if failed {
            tracing::debug!(error = %std::io::Error::last_os_error(), ?policy, "the SQLite writer thread's scheduling policy stays as it was");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = policy;
}

/// How many pages the write-ahead log may hold before the writer copies
/// them into the database file itself, as a backstop (SQLite's default is
/// 1000); `checkpoints` normally does it long before.
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// How often `checkpoints` copies the log into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Copies the write-ahead log into the database file, on a connection of
/// its own, after the writer has been used; ends when the writer is gone.
///
/// Left to SQLite, the connection that commits does this every 1000 pages,
/// syncing both files to disk before the commit returns while every write
/// behind it waits; under a steady stream of sign-ins that was 25 times a
/// second. Here the copying and its syncs run beside the writes (a passive
/// checkpoint takes no lock a writer needs). The log can only start over
/// from its beginning once everything in it is copied, which a stream of
/// writes may keep from happening; the writer's own checkpoint at
/// `WRITER_CHECKPOINT_PAGES` then finds little left to copy.
pub(crate) async fn checkpoints(options: SqliteConnectOptions, writer: Weak<SqliteConnections>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn: Option<SqliteConnection> = None;
    let mut copied_after = 0;
    loop {
        tick.tick().await;
        let Some(writes) = writer
            .upgrade()
            .map(|w| w.handed_out.load(Ordering::Relaxed))
        else {
            return;
        };
        if writes == copied_after {
            continue;
        }
        let c = match &mut conn {
            Some(c) => c,
            None => match options.connect().await {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the SQLite checkpoint connection could not open");
                    continue;
                }
            },
        };
        match sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *c)
            .await
        {
            Ok(_) => copied_after = writes,
            Err(e) => {
                tracing::warn!(error = %e, "an SQLite checkpoint failed");
                // Opened afresh next time.
                conn = None;
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::{JobUnderWay, WriterThread};

    fn policy() -> i32 {
        // SAFETY: asks for the calling thread's policy; no memory is shared.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[tokio::test]
    async fn the_writer_thread_lets_the_thread_that_wakes_it_finish_while_a_job_is_under_way() {
        let writer = WriterThread::start().expect("the writer thread starts");
        let (idle, busy, nested, idle_again) = writer
            .runtime
            .spawn(async {
                let idle = policy();
                let first = JobUnderWay::begin();
                let busy = policy();
                let second = JobUnderWay::begin();
                drop(first);
                let nested = policy();
                drop(second);
                (idle, busy, nested, policy())
            })
            .await
            .expect("the job ran");
        assert_eq!(
            idle,
            libc::SCHED_OTHER,
            "an idle writer thread is an ordinary one"
        );
        assert_eq!(busy, libc::SCHED_BATCH);
        assert_eq!(nested, libc::SCHED_BATCH, "while another job is under way");
        assert_eq!(idle_again, libc::SCHED_OTHER);
    }
}
