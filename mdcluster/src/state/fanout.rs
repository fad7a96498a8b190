//! A big archive scanned by several workers: the root's fan-out record,
//! the tree-wide budget counters, the parts as they arrive and the final
//! assembly.

use super::*;

impl State {
    /// Opens a root's fan-out (once: a redelivered root task keeps the
    /// first record). `used` = objects and bytes the parent's own
    /// extraction consumed.
    pub async fn fan_open(
        &self,
        root: &str,
        parent: &Report,
        tokens: &[String],
        used: (u64, u64),
    ) -> Result<(), Error> {
        let (json, _) = stored(parent)?;
        let mut c = self.con.clone();
        let script = redis::Script::new(FAN_OPEN);
        let mut inv = script.prepare_invoke();
        inv.key(self.key("fan", root))
            .key(self.key("want", root))
            .arg(json)
            .arg(tokens.len())
            .arg(used.0)
            .arg(used.1)
            .arg(self.retention_s);
        for t in tokens {
            inv.arg(t);
        }
        inv.invoke_async::<i64>(&mut c).await.map_err(rerr)?;
        Ok(())
    }

    /// Objects and bytes used so far by a fanned-out root's whole tree.
    pub async fn fan_usage(&self, root: &str) -> Result<(u64, u64), Error> {
        let mut c = self.con.clone();
        let (o, b): (Option<u64>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.key("fan", root))
            .arg("objects")
            .arg("bytes")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok((o.unwrap_or(0), b.unwrap_or(0)))
    }

    /// Records a child's report (first write wins) and returns the children
    /// still pending, or `None` when the root has no open fan-out (already
    /// finalized, or unknown).
    pub async fn fan_part(
        &self,
        root: &str,
        token: &str,
        report: &Report,
    ) -> Result<Option<u64>, Error> {
        let (json, _) = stored(report)?;
        let mut c = self.con.clone();
        let n: i64 = redis::Script::new(FAN_PART)
            .key(self.key("fan", root))
            .key(self.key("want", root))
            .key(self.key("part", root))
            .arg(token)
            .arg(json)
            .arg(report.objects.saturating_sub(1))
            .arg(report.bytes_extracted)
            .arg(self.retention_s)
            .invoke_async(&mut c)
            .await
            .map_err(rerr)?;
        Ok(u64::try_from(n).ok())
    }

    /// The parent and every child report of a fan-out, if it is open.
    pub async fn fan_collect(&self, root: &str) -> Result<Option<Fan>, Error> {
        let mut c = self.con.clone();
        let parent: Option<String> = redis::cmd("HGET")
            .arg(self.key("fan", root))
            .arg("parent")
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        let Some(parent) = parent.and_then(|p| serde_json::from_str::<Report>(&p).ok()) else {
            return Ok(None);
        };
        let parts: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.key("part", root))
            .query_async(&mut c)
            .await
            .map_err(rerr)?;
        let parts = parts
            .into_iter()
            .filter_map(|(t, r)| Some((t, serde_json::from_str(&r).ok()?)))
            .collect();
        Ok(Some(Fan { parent, parts }))
    }

    /// Drops a finalized fan-out's bookkeeping.
    pub async fn fan_close(&self, root: &str) -> Result<(), Error> {
        let mut c = self.con.clone();
        redis::cmd("DEL")
            .arg(self.key("fan", root))
            .arg(self.key("want", root))
            .arg(self.key("part", root))
            .query_async::<()>(&mut c)
            .await
            .map_err(rerr)
    }
}
