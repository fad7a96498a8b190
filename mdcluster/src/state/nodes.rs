//! Workers as the cluster sees them: heartbeats and the status each one
//! publishes, drain requests, engine reloads, leaving.

use super::*;

impl State {
    /// Whether a worker's status is still fresh (it sent a heartbeat).
    pub async fn alive(&self, worker: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.key("node", worker))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Publishes this worker's status for `GET /stat/nodes`; it lapses
    /// after `ttl` without a new beat.
    pub async fn heartbeat(
        &self,
        worker: &str,
        status: &serde_json::Value,
        ttl: Duration,
    ) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::pipe()
            .cmd("SET")
            .arg(self.key("node", worker))
            .arg(status.to_string())
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .ignore()
            .cmd("ZADD")
            .arg(format!("{}:nodes", self.ns))
            .arg(now_ms())
            .arg(worker)
            .ignore()
            // The list itself lapses when no worker is left to refresh it.
            .cmd("EXPIRE")
            .arg(format!("{}:nodes", self.ns))
            .arg(120)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// Asks a live worker to drain: stop taking tasks, finish those it
    /// holds, leave. `false` when no live worker has that name.
    pub async fn request_drain(&self, worker: &str) -> Result<bool, Error> {
        if !self.alive(worker).await? {
            return Ok(false);
        }
        let mut c = self.con.clone();
        redis::cmd("SET")
            .arg(self.key("drain", worker))
            .arg(now_ms())
            .arg("EX")
            .arg(3600)
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)?;
        Ok(true)
    }

    /// Asks every process of the cluster to read its detection
    /// definitions again; returns the new reload number. The key does not
    /// expire: a worker that starts later reads the number and knows its
    /// definitions are current.
    pub async fn request_engine_reload(&self) -> Result<u64, Error> {
        let mut c = self.con.clone();
        redis::cmd("INCR")
            .arg(format!("{}:engines:reload", self.ns))
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    /// The latest reload number (0: none was asked for).
    pub async fn engine_reload(&self) -> Result<u64, Error> {
        let mut c = self.con.clone();
        let n: Option<u64> = redis::cmd("GET")
            .arg(format!("{}:engines:reload", self.ns))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n.unwrap_or(0))
    }

    /// Whether this worker was asked to drain.
    pub async fn drain_requested(&self, worker: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.key("drain", worker))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }

    /// Removes a worker's status (a clean stop) and any drain request.
    pub async fn leave(&self, worker: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::pipe()
            .cmd("DEL")
            .arg(self.key("drain", worker))
            .ignore()
            .cmd("DEL")
            .arg(self.key("node", worker))
            .ignore()
            .cmd("ZREM")
            .arg(format!("{}:nodes", self.ns))
            .arg(worker)
            .ignore()
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// Statuses of the live workers.
    pub async fn nodes(&self) -> Result<Vec<serde_json::Value>, Error> {
        let set = format!("{}:nodes", self.ns);
        let mut c = self.con.clone();
        // Forget workers silent for over a minute; the rest are filtered by
        // their status key's TTL.
        let _: () = redis::cmd("ZREMRANGEBYSCORE")
            .arg(&set)
            .arg(0)
            .arg(now_ms().saturating_sub(60_000))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(&set)
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|i| self.key("node", i)).collect();
        let vals: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(vals
            .into_iter()
            .flatten()
            .filter_map(|v| serde_json::from_str(&v).ok())
            .collect())
    }
}
