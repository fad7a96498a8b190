//! What the gateways keep for people rather than files: the audit log (a
//! Redis stream), sign-in counters, sessions and other documents, and the
//! records of users, API keys and workflow edits.

use super::*;

impl State {
    fn audit_key(&self) -> String {
        format!("{}:audit", self.ns)
    }

    /// Appends an audit entry (JSON) stamped `time_ms` to the audit stream.
    /// An entry older than the stream's last (clocks of two gateways a
    /// little apart) takes the stream's next id instead.
    pub async fn audit_add(&self, time_ms: u64, json: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        let first = redis::cmd("XADD")
            .arg(self.audit_key())
            .arg(format!("{time_ms}-*"))
            .arg("e")
            .arg(json)
            .query_async::<String>(&mut c)
            .await;
        match first {
            Ok(_) => Ok(()),
            Err(e) if e.to_string().contains("equal or smaller") => redis::cmd("XADD")
                .arg(self.audit_key())
                .arg("*")
                .arg("e")
                .arg(json)
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
                .map_err(rerr),
            Err(e) => Err(rerr(e)),
        }
    }

    /// Audit entries (JSON) stamped between `from_ms` and `to_ms`, newest
    /// first, at most `count`.
    pub async fn audit_range(
        &self,
        from_ms: u64,
        to_ms: u64,
        count: usize,
    ) -> Result<Vec<String>, Error> {
        let page = self
            .audit_page(from_ms, &format!("{to_ms}-18446744073709551615"), count)
            .await?;
        Ok(page.into_iter().map(|(_, e)| e).collect())
    }

    /// One page of the audit stream, newest first: up to `count` entries
    /// from stream id `end` (inclusive; `(` before an id makes it
    /// exclusive) back to `from_ms`, each with its id — the cursor for the
    /// next page is `(` and the last id, so entries sharing a millisecond
    /// are never skipped.
    pub async fn audit_page(
        &self,
        from_ms: u64,
        end: &str,
        count: usize,
    ) -> Result<Vec<(String, String)>, Error> {
        let mut c = self.con.clone();
        let v: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.audit_key())
            .arg(end)
            .arg(format!("{from_ms}-0"))
            .arg("COUNT")
            .arg(count)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(v.ids
            .into_iter()
            .filter_map(|id| {
                let e = id.get::<String>("e")?;
                Some((id.id, e))
            })
            .collect())
    }

    /// Drops audit entries stamped before `before_ms`.
    pub async fn audit_trim(&self, before_ms: u64) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("XTRIM")
            .arg(self.audit_key())
            .arg("MINID")
            .arg(format!("{before_ms}-0"))
            .query_async::<i64>(&mut c)
            .await
            .map(|_| ())
            .map_err(rerr)
    }

    /// The count of `key` in its current window (0 when none).
    pub async fn hits(&self, key: &str) -> Result<u64, Error> {
        let mut c = self.con.clone();
        let n: Option<u64> = redis::cmd("GET")
            .arg(self.key("hits", key))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n.unwrap_or(0))
    }

    /// Counts one event `key` in a fixed window of `window` (rate limits
    /// shared by every gateway); returns the count so far.
    pub async fn hit(&self, key: &str, window: Duration) -> Result<u64, Error> {
        let k = self.key("hits", key);
        let mut c = self.con.clone();
        let (n,): (u64,) = redis::pipe()
            .atomic()
            .incr(&k, 1)
            .cmd("PEXPIRE")
            .arg(&k)
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            .arg("NX")
            .ignore()
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n)
    }

    /// Stores a document (a login session, …) for `ttl_s` seconds.
    pub async fn put_doc(&self, kind: &str, id: &str, json: &str, ttl_s: u64) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("SET")
            .arg(self.key(&format!("doc:{kind}"), id))
            .arg(json)
            .arg("EX")
            .arg(ttl_s.max(1))
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// A stored document.
    pub async fn doc(&self, kind: &str, id: &str) -> Result<Option<String>, Error> {
        let mut c = self.con.clone();
        redis::cmd("GET")
            .arg(self.key(&format!("doc:{kind}"), id))
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    /// Removes a stored document.
    pub async fn drop_doc(&self, kind: &str, id: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("DEL")
            .arg(self.key(&format!("doc:{kind}"), id))
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }

    /// A durable record (`{ns}:rec:{kind}` field `key`).
    pub async fn record(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, Error> {
        let mut c = self.con.clone();
        redis::cmd("HGET")
            .arg(self.key("rec", kind))
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(rerr)
    }

    /// Every record of a kind.
    pub async fn records(&self, kind: &str) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut c = self.con.clone();
        let m: std::collections::HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(self.key("rec", kind))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        let mut v: Vec<(String, Vec<u8>)> = m.into_iter().collect();
        v.sort();
        Ok(v)
    }

    /// Whether any record of a kind exists.
    pub async fn has_records(&self, kind: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: u64 = redis::cmd("EXISTS")
            .arg(self.key("rec", kind))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n > 0)
    }

    /// Stores a record; with `only_new`, only when the key is free
    /// (`HSETNX`): `false` then.
    pub async fn put_record(
        &self,
        kind: &str,
        key: &str,
        value: &[u8],
        only_new: bool,
    ) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let cmd = if only_new { "HSETNX" } else { "HSET" };
        let n: u64 = redis::cmd(cmd)
            .arg(self.key("rec", kind))
            .arg(key)
            .arg(value)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(!only_new || n == 1)
    }

    /// Removes a record: `false` when there was none.
    pub async fn drop_record(&self, kind: &str, key: &str) -> Result<bool, Error> {
        let mut c = self.con.clone();
        let n: u64 = redis::cmd("HDEL")
            .arg(self.key("rec", kind))
            .arg(key)
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(n == 1)
    }
}
