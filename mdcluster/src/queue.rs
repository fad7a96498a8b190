//! Scan tasks on RabbitMQ: one durable priority queue of persistent
//! messages, published with confirms, consumed with manual acks and a
//! bounded prefetch; a dead-letter queue receives tasks that exhausted
//! their attempts. The connection is re-opened on demand after a broker
//! restart.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, Consumer, DefaultConnectionBuilder,
};
use tokio::sync::Mutex;

use crate::task::Task;
use crate::{Error, LinkTls};

fn qerr(e: lapin::Error) -> Error {
    Error::Amqp(e.to_string())
}

/// Queue names of one cluster.
#[derive(Clone, Debug)]
pub struct Names {
    /// Scan tasks.
    pub tasks: String,
    /// Tasks that failed on every attempt.
    pub dead: String,
}

impl Names {
    /// The queues of namespace `ns`.
    pub fn new(ns: &str) -> Names {
        Names {
            tasks: format!("{ns}.tasks"),
            dead: format!("{ns}.dead"),
        }
    }
}

/// Opens a connection and a channel, and declares the queues (idempotent).
pub async fn open(url: &str, names: &Names) -> Result<(Connection, Channel), Error> {
    open_tls(url, &LinkTls::default(), names).await
}

/// [`open`], with `tls` for an `amqps://` URL.
pub async fn open_tls(
    url: &str,
    tls: &LinkTls,
    names: &Names,
) -> Result<(Connection, Channel), Error> {
    let props = ConnectionProperties::default().with_connection_name("mdscan".into());
    let builder = DefaultConnectionBuilder::new()
        .map_err(qerr)?
        .with_uri_str(url.to_string())
        .with_properties(props)
        .with_tls_config(tls.amqp());
    let conn = tokio::time::timeout(Duration::from_secs(10), builder.connect())
        .await
        .map_err(|_| Error::Amqp(format!("no answer from {}", redact(url))))?
        .map_err(qerr)?;
    let ch = conn.create_channel().await.map_err(qerr)?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(names.dead.as_str().into(), durable, FieldTable::default())
        .await
        .map_err(qerr)?;
    let mut args = FieldTable::default();
    args.insert("x-max-priority".into(), AMQPValue::ShortShortUInt(9));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(names.dead.as_str().into()),
    );
    ch.queue_declare(names.tasks.as_str().into(), durable, args)
        .await
        .map_err(qerr)?;
    Ok((conn, ch))
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &url[..s], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// Publishes tasks with confirms, reconnecting when the broker went away.
#[derive(Debug)]
pub struct Publisher {
    url: String,
    tls: LinkTls,
    names: Names,
    link: Mutex<Option<(Connection, Channel)>>,
    /// For `MDSCAN_TEST_DROP_PUBLISH_ONCE` (test builds).
    dropped_once: std::sync::atomic::AtomicBool,
}

impl Publisher {
    /// A publisher; connects on first use.
    pub fn new(url: &str, names: Names) -> Arc<Publisher> {
        Publisher::with_tls(url, LinkTls::default(), names)
    }

    /// [`Publisher::new`], with `tls` for an `amqps://` URL.
    pub fn with_tls(url: &str, tls: LinkTls, names: Names) -> Arc<Publisher> {
        Arc::new(Publisher {
            url: url.to_string(),
            tls,
            names,
            link: Mutex::new(None),
            dropped_once: std::sync::atomic::AtomicBool::new(false),
        })
    }

    async fn channel(&self) -> Result<Channel, Error> {
        let mut link = self.link.lock().await;
        if let Some((conn, ch)) = link.as_ref()
            && conn.status().connected()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        *link = None;
        let (conn, ch) = open_tls(&self.url, &self.tls, &self.names).await?;
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(qerr)?;
        *link = Some((conn, ch.clone()));
        Ok(ch)
    }

    async fn forget(&self) {
        *self.link.lock().await = None;
    }

    /// Publishes `task` and waits for the broker to confirm it is stored.
    /// One reconnect is tried when the channel turned out to be dead.
    pub async fn publish(&self, task: &Task) -> Result<(), Error> {
        let body = serde_json::to_vec(task).map_err(|e| Error::Amqp(e.to_string()))?;
        // Fault injection for the cluster tests: a publish the broker
        // confirmed and then lost (every time, or the first time only).
        if crate::fault("MDSCAN_TEST_DROP_PUBLISH", &task.name)
            || (crate::fault("MDSCAN_TEST_DROP_PUBLISH_ONCE", &task.name)
                && !self
                    .dropped_once
                    .swap(true, std::sync::atomic::Ordering::Relaxed))
        {
            eprintln!(
                "mdscan: MDSCAN_TEST_DROP_PUBLISH: dropping the task of {}",
                task.name
            );
            return Ok(());
        }
        let mut last = None;
        for _ in 0..2 {
            match self.try_publish(&body, task.priority()).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.forget().await;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Amqp("publish failed".into())))
    }

    async fn try_publish(&self, body: &[u8], priority: u8) -> Result<(), Error> {
        let ch = self.channel().await?;
        let props = BasicProperties::default()
            .with_delivery_mode(2)
            .with_priority(priority)
            .with_content_type("application/json".into());
        let confirm = ch
            .basic_publish(
                ShortString::from(""),
                self.names.tasks.as_str().into(),
                BasicPublishOptions::default(),
                body,
                props,
            )
            .await
            .map_err(qerr)?;
        let confirmation = tokio::time::timeout(Duration::from_secs(15), confirm)
            .await
            .map_err(|_| Error::Amqp("the broker did not confirm the task".into()))?
            .map_err(qerr)?;
        if confirmation.is_nack() {
            return Err(Error::Amqp("the broker refused the task".into()));
        }
        Ok(())
    }

    /// Tasks waiting in the queue (not yet delivered to a worker).
    pub async fn depth(&self) -> Result<u32, Error> {
        let ch = self.channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match ch
            .queue_declare(
                self.names.tasks.as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await
        {
            Ok(q) => Ok(q.message_count()),
            Err(e) => {
                self.forget().await;
                Err(qerr(e))
            }
        }
    }
}

/// Starts consuming tasks with at most `prefetch` unacknowledged at once.
pub async fn consume(
    ch: &Channel,
    names: &Names,
    prefetch: u16,
    tag: &str,
) -> Result<Consumer, Error> {
    ch.basic_qos(prefetch.max(1), BasicQosOptions::default())
        .await
        .map_err(qerr)?;
    ch.basic_consume(
        names.tasks.as_str().into(),
        tag.into(),
        BasicConsumeOptions::default(),
        FieldTable::default(),
    )
    .await
    .map_err(qerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_printed() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://***@host:5672/%2f"
        );
        assert_eq!(redact("amqp://host"), "amqp://host");
    }
}
