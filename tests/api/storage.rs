//! How the SQLite store keeps its files.

use std::time::{Duration, Instant};

use crate::helpers::{Backend, spawn_app};

/// Committed pages go to the write-ahead log first; the store copies them
/// into the database file in the background rather than making a commit
/// wait for it. The migrations alone are far fewer pages than the writer's
/// own threshold, so without the background copy the database file would
/// stay at its first page.
#[tokio::test]
async fn sqlite_copies_the_log_into_the_database_file_in_the_background() {
    let app = spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite always runs");
    let path = app
        .database_url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .expect("a SQLite file URL")
        .to_string();
    let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let wal = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
    assert!(wal > 0, "the database is in WAL mode, with a log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while size() < 64 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the database file is still {} bytes: the log was not copied into it",
            size()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
