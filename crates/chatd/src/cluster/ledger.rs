//! The cluster's ledger: what the nodes keep in the database they share
//! besides history and accounts. Each node's lease (a node whose lease
//! ends is gone for the others), the names the nodes' guests hold, and
//! the lobby's index counter. Only the cluster reads and writes it; the
//! tables are made with the store's schema (version 2).

use std::time::Duration;

use async_trait::async_trait;
use chat_engine::StoreError;
use chat_engine::store::postgres_shared::{connection, pool, unavailable};
use deadpool_postgres::Pool;

/// Connections the ledger holds: its calls are few.
const POOL_SIZE: usize = 4;

/// A node's lease, as renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The nodes whose leases have not ended, this one among them.
    pub live_nodes: Vec<u64>,
    /// The web client's URLs of the other live nodes that serve it.
    pub peer_urls: Vec<String>,
    /// This node's lease had ended (or it had none) before this renewal:
    /// the names it held may have gone to others' guests.
    pub lapsed: bool,
}

/// What the nodes of a cluster keep in their shared database.
#[async_trait]
pub trait Ledger: Send + Sync + 'static {
    /// Renews the lease of node `node`, whose web client is at `url`
    /// (empty if none), for `length`; forgets the nodes whose leases ended
    /// a minute ago or more, and the names held by nodes whose leases have
    /// ended.
    async fn renew_lease(
        &self,
        node: u64,
        url: &str,
        length: Duration,
    ) -> Result<Lease, StoreError>;

    /// The next lobby user's index, given once in the cluster.
    async fn next_lobby_index(&self) -> Result<i64, StoreError>;

    /// Ends node `node`'s lease now (it is shutting down): its guests'
    /// names are free at once.
    async fn end_lease(&self, node: u64) -> Result<(), StoreError>;

    /// Holds `name` (whose `name_key` is `key`) for a guest of node
    /// `node`, as holding `hold`. Returns the name as held by a guest of
    /// another live node instead, if one holds it.
    async fn hold_guest_name(
        &self,
        node: u64,
        key: &str,
        name: &str,
        hold: u64,
    ) -> Result<Option<String>, StoreError>;

    /// Lets go of a name held as `hold`; a later holding of it stays.
    async fn release_guest_name(&self, key: &str, hold: u64) -> Result<(), StoreError>;
}

/// The ledger in the PostgreSQL database at a URL.
pub struct PostgresLedger {
    pool: Pool,
}

impl PostgresLedger {
    /// A pool of connections to the database at `url`, whose schema the
    /// store has brought up to date.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(PostgresLedger {
            pool: pool(url, POOL_SIZE)?,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        connection(&self.pool).await
    }
}

#[async_trait]
impl Ledger for PostgresLedger {
    async fn renew_lease(
        &self,
        node: u64,
        url: &str,
        length: Duration,
    ) -> Result<Lease, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot renew the node's lease", &e);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(fail)?;
        let lapsed = tx
            .query_opt(
                "SELECT lease_until <= now() FROM nodes WHERE id = $1",
                &[&to_sql(node)],
            )
            .await
            .map_err(fail)?
            .is_none_or(|row| row.get(0));
        let millis = f64::from(u32::try_from(length.as_millis()).unwrap_or(u32::MAX));
        tx.execute(
            "INSERT INTO nodes (id, lease_until, url)
             VALUES ($1, now() + $2 * interval '1 millisecond', $3)
             ON CONFLICT (id) DO UPDATE
             SET lease_until = EXCLUDED.lease_until, url = EXCLUDED.url",
            &[&to_sql(node), &millis, &url],
        )
        .await
        .map_err(fail)?;
        tx.batch_execute(
            "DELETE FROM guest_names
             WHERE node NOT IN (SELECT id FROM nodes WHERE lease_until > now());
             DELETE FROM nodes WHERE lease_until < now() - interval '1 minute';",
        )
        .await
        .map_err(fail)?;
        let live = tx
            .query("SELECT id, url FROM nodes WHERE lease_until > now()", &[])
            .await
            .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        let live_nodes = live.iter().map(|row| from_sql(row.get(0))).collect();
        let peer_urls = live
            .iter()
            .filter(|row| from_sql(row.get(0)) != node)
            .map(|row| row.get::<_, String>(1))
            .filter(|url| !url.is_empty())
            .collect();
        Ok(Lease {
            live_nodes,
            peer_urls,
            lapsed,
        })
    }

    async fn next_lobby_index(&self) -> Result<i64, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot give a lobby user an index", &e);
        let client = self.client().await?;
        let row = client
            .query_one("SELECT nextval('lobby_user_index')", &[])
            .await
            .map_err(fail)?;
        Ok(row.get(0))
    }

    async fn end_lease(&self, node: u64) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot end the node's lease", &e);
        let client = self.client().await?;
        for statement in [
            "DELETE FROM guest_names WHERE node = $1",
            "DELETE FROM nodes WHERE id = $1",
        ] {
            client
                .execute(statement, &[&to_sql(node)])
                .await
                .map_err(fail)?;
        }
        Ok(())
    }

    async fn hold_guest_name(
        &self,
        node: u64,
        key: &str,
        name: &str,
        hold: u64,
    ) -> Result<Option<String>, StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot hold the name", &e);
        let client = self.client().await?;
        let held = client
            .query_opt(
                "INSERT INTO guest_names AS held (key, name, node, hold) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE
                 SET name = EXCLUDED.name, node = EXCLUDED.node, hold = EXCLUDED.hold
                 WHERE held.node = EXCLUDED.node
                    OR held.node NOT IN (SELECT id FROM nodes WHERE lease_until > now())
                 RETURNING node",
                &[&key, &name, &to_sql(node), &to_sql(hold)],
            )
            .await
            .map_err(fail)?;
        if held.is_some() {
            return Ok(None);
        }
        let holder = client
            .query_opt("SELECT name FROM guest_names WHERE key = $1", &[&key])
            .await
            .map_err(fail)?;
        Ok(Some(
            holder.map_or_else(|| name.to_owned(), |row| row.get(0)),
        ))
    }

    async fn release_guest_name(&self, key: &str, hold: u64) -> Result<(), StoreError> {
        let fail = |e: tokio_postgres::Error| unavailable("cannot let go of the name", &e);
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM guest_names WHERE key = $1 AND hold = $2",
                &[&key, &to_sql(hold)],
            )
            .await
            .map_err(fail)?;
        Ok(())
    }
}

/// PostgreSQL integers are signed; node ids and holds are kept below
/// `i64::MAX`.
fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn from_sql(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
