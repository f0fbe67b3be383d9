//! The log in Apache Kafka, for deployments of several processes.
//!
//! Each log is one topic, `{prefix}commands`, `{prefix}tasks` and
//! `{prefix}visibility`, with the layout's partition counts; Kafka offsets are
//! the log's offsets. Topics keep records until [`Log::trim`] deletes them
//! (DeleteRecords): time and size retention are switched off, because a
//! record the engine has not applied yet must never expire.
//!
//! Appends go through one idempotent producer (`acks=all`), which keeps the
//! order in which records were enqueued for a partition, retries included.
//! A call enqueues all its records while holding its partition's lock, so two
//! calls from this process cannot interleave; it waits for Kafka's
//! acknowledgements after releasing it, so calls still pipeline. Calls from
//! other processes to the same partition may interleave with ours, which is
//! why each partition must have one writer at a time.
//!
//! Reads use consumers with an explicit assignment, never a consumer group:
//! what was applied is kept by Temper's store, not in Kafka. Consumers are
//! pooled per partition and remember the next offset they will deliver, so a
//! reader tailing a partition reuses one consumer and its prefetched records.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::FutureExt;
use futures::future::try_join_all;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset as KafkaOffset, TopicPartitionList};

use super::{Log, LogError, LogLayout, LogName, LogRecord, Offset, check_partition};

/// Where the log lives and how long the cluster may take to answer.
#[derive(Clone, Debug)]
pub struct KafkaLogConfig {
    /// `host:port` pairs, comma-separated, as Kafka clients take them.
    pub bootstrap_servers: String,
    /// Prepended to each log's name to name its topic, so several Temper
    /// clusters (or tests) can share one Kafka cluster.
    pub topic_prefix: String,
    /// Used only when the topics are created.
    pub replication_factor: i32,
    /// Bounds each request to the cluster (topic creation, metadata,
    /// watermarks, DeleteRecords), so an unreachable cluster is an error
    /// rather than a hang.
    pub request_timeout: Duration,
    /// How long the producer keeps retrying a record before its append fails.
    pub delivery_timeout: Duration,
    /// How long the producer waits to fill a batch: a little latency for far
    /// fewer requests when many appends arrive together.
    pub linger: Duration,
}

impl Default for KafkaLogConfig {
    fn default() -> Self {
        KafkaLogConfig {
            bootstrap_servers: "127.0.0.1:9092".to_string(),
            topic_prefix: "temper-".to_string(),
            replication_factor: 1,
            request_timeout: Duration::from_secs(10),
            delivery_timeout: Duration::from_secs(30),
            linger: Duration::from_millis(1),
        }
    }
}

impl KafkaLogConfig {
    fn topic(&self, log: LogName) -> String {
        format!("{}{}", self.topic_prefix, log.as_str())
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.bootstrap_servers)
            .set("socket.timeout.ms", millis(self.request_timeout))
            // Requests are small and latency-bound: send each at once.
            .set("socket.nagle.disable", "true")
            .set("message.max.bytes", MAX_RECORD_BYTES);
        config
    }
}

/// The largest record a log takes (Kafka's default is 1 MiB): a command
/// carries a whole request, which the gateway admits up to its request limit
/// (4 MiB by default, Temporal's gRPC limit), with room for larger limits.
const MAX_RECORD_BYTES: &str = "16777216";

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

fn storage(action: &str, error: impl std::fmt::Display) -> LogError {
    LogError::Storage(format!("kafka: {action}: {error}"))
}

/// Idle consumers kept per partition; more concurrent readers of one
/// partition get consumers of their own that are dropped afterwards.
const IDLE_READERS_PER_PARTITION: usize = 2;

/// Between two tries of a query that failed transiently.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// A [`Log`] kept in Kafka topics.
pub struct KafkaLog {
    config: KafkaLogConfig,
    layout: LogLayout,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    /// Per log (in `LogName::ALL` order), per partition: held while a call
    /// enqueues its records.
    enqueueing: Vec<Vec<tokio::sync::Mutex<()>>>,
    idle_readers: parking_lot::Mutex<HashMap<(LogName, u32), Vec<Reader>>>,
}

/// A consumer assigned to one partition, and the offset of the next record
/// it will deliver.
struct Reader {
    consumer: StreamConsumer,
    next: Offset,
}

impl KafkaLog {
    /// Connects, creates the three topics with `layout` if they are missing,
    /// and refuses topics that exist with other partition counts.
    pub async fn open(config: KafkaLogConfig, layout: LogLayout) -> Result<KafkaLog, LogError> {
        let producer: FutureProducer = config
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(config.delivery_timeout))
            .set("linger.ms", millis(config.linger))
            .create()
            .map_err(|e| storage("creating the producer", e))?;
        let admin = config.client_config().create().map_err(|e| storage("creating the admin client", e))?;
        create_missing_topics(&admin, &config, layout).await?;
        let log = KafkaLog {
            enqueueing: LogName::ALL
                .iter()
                .map(|&name| (0..layout.partitions(name)).map(|_| tokio::sync::Mutex::new(())).collect())
                .collect(),
            config,
            layout,
            producer,
            admin,
            idle_readers: parking_lot::Mutex::new(HashMap::new()),
        };
        log.check_layout().await?;
        Ok(log)
    }

    async fn check_layout(&self) -> Result<(), LogError> {
        let stored = LogLayout {
            commands: self.partition_count(LogName::Commands).await?,
            tasks: self.partition_count(LogName::Tasks).await?,
            visibility: self.partition_count(LogName::Visibility).await?,
        };
        if stored == self.layout {
            Ok(())
        } else {
            Err(LogError::LayoutMismatch { stored, requested: self.layout })
        }
    }

    /// A topic just created may be missing from the metadata, or its
    /// partitions without a leader, for a moment: `query` asks again.
    async fn partition_count(&self, log: LogName) -> Result<u32, LogError> {
        let topic = self.config.topic(log);
        let timeout = self.config.request_timeout;
        let what = format!("reading the metadata of topic {topic}");
        self.query(what, move |producer| {
            let metadata = producer.client().fetch_metadata(Some(&topic), timeout)?;
            let found = metadata.topics().iter().find(|t| t.name() == topic);
            let not_ready = || KafkaError::MetadataFetch(RDKafkaErrorCode::LeaderNotAvailable);
            let found = found.ok_or_else(not_ready)?;
            if let Some(error) = found.error() {
                return Err(KafkaError::MetadataFetch(error.into()));
            }
            if found.partitions().is_empty() || found.partitions().iter().any(|p| p.leader() < 0) {
                return Err(not_ready());
            }
            Ok(found.partitions().len() as u32)
        })
        .await
    }

    /// The oldest readable offset and the next offset to be written.
    async fn watermarks(&self, log: LogName, partition: u32) -> Result<(Offset, Offset), LogError> {
        let topic = self.config.topic(log);
        let timeout = self.config.request_timeout;
        let what = format!("reading the offsets of {topic}/{partition}");
        let (low, high) = self
            .query(what, move |producer| producer.client().fetch_watermarks(&topic, partition as i32, timeout))
            .await?;
        Ok((low.max(0) as Offset, high.max(0) as Offset))
    }

    /// Runs a blocking librdkafka query off the runtime, again while it fails
    /// in a way that passes by itself, until the request timeout is spent.
    async fn query<T: Send + 'static>(
        &self,
        what: String,
        call: impl Fn(&FutureProducer) -> Result<T, KafkaError> + Send + Sync + 'static,
    ) -> Result<T, LogError> {
        let call = Arc::new(call);
        let deadline = tokio::time::Instant::now() + self.config.request_timeout;
        loop {
            let (producer, call) = (self.producer.clone(), call.clone());
            let result = tokio::task::spawn_blocking(move || call(&producer))
                .await
                .map_err(|e| storage(&what, e))?;
            match result {
                Ok(value) => return Ok(value),
                Err(error) if is_transient(&error) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(error) => return Err(storage(&what, error)),
            }
        }
    }

    /// Enqueues every record under the partition's lock, so that the
    /// producer, which keeps a partition's enqueue order, stores them
    /// together; the acknowledgements are awaited without the lock.
    /// Dropping the call can only happen while it waits for the lock, before
    /// any record is enqueued, so a call is enqueued whole or not at all
    /// (short of the producer's queue filling up mid-call).
    async fn enqueue(
        &self,
        log: LogName,
        partition: u32,
        records: &[Bytes],
    ) -> Result<Vec<rdkafka::producer::DeliveryFuture>, LogError> {
        let topic = self.config.topic(log);
        let _order = self.enqueueing[log_index(log)][partition as usize].lock().await;
        records
            .iter()
            .map(|payload| {
                let record = FutureRecord::<(), [u8]>::to(&topic).partition(partition as i32).payload(payload.as_ref());
                self.producer.send_result(record).map_err(|(e, _)| storage(&format!("enqueueing to {topic}"), e))
            })
            .collect()
    }

    /// A reader positioned at `from`: an idle one already there if any, else
    /// an idle or new one moved there once `from` is known not to be trimmed.
    /// A reader already there may still hand out records it fetched before a
    /// trim; a reader that follows the partition only trims behind itself.
    async fn reader_at(&self, log: LogName, partition: u32, from: Offset) -> Result<Reader, LogError> {
        let idle = {
            let mut idle_readers = self.idle_readers.lock();
            let readers = idle_readers.entry((log, partition)).or_default();
            match readers.iter().position(|reader| reader.next == from) {
                Some(at) => return Ok(readers.swap_remove(at)),
                None => readers.pop(),
            }
        };
        let (oldest, _) = self.watermarks(log, partition).await?;
        if from < oldest {
            return Err(LogError::Trimmed { log, partition, offset: from, oldest });
        }
        let consumer = match idle {
            Some(reader) => reader.consumer,
            None => self.new_consumer()?,
        };
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&self.config.topic(log), partition as i32, KafkaOffset::Offset(from as i64))
            .map_err(|e| storage("assigning a partition", e))?;
        // A new assignment discards what the consumer fetched for the old one.
        consumer.assign(&assignment).map_err(|e| storage("assigning a partition", e))?;
        Ok(Reader { consumer, next: from })
    }

    fn new_consumer(&self) -> Result<StreamConsumer, LogError> {
        self.config
            .client_config()
            // librdkafka wants a group id on every consumer; with an explicit
            // assignment and no commits it never joins the group.
            .set("group.id", format!("{}reader", self.config.topic_prefix))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // A trimmed position must surface as an error, not silently jump.
            .set("auto.offset.reset", "error")
            // Pooled consumers prefetch while idle; librdkafka's 64 MiB each
            // would add up over many partitions.
            .set("queued.max.messages.kbytes", "4096")
            .create()
            .map_err(|e| storage("creating a consumer", e))
    }

    fn return_reader(&self, log: LogName, partition: u32, reader: Reader) {
        let mut idle_readers = self.idle_readers.lock();
        let readers = idle_readers.entry((log, partition)).or_default();
        if readers.len() < IDLE_READERS_PER_PARTITION {
            readers.push(reader);
        }
    }

    async fn lease_reader(&self, log: LogName, partition: u32, from: Offset) -> Result<Lease<'_>, LogError> {
        let reader = self.reader_at(log, partition, from).await?;
        Ok(Lease { log: self, key: (log, partition), reader: Some(reader) })
    }

    /// Why a consumer failed: reading below the oldest record is `Trimmed`;
    /// `None` for a transient error, which the consumer gets over.
    async fn consumption_error(&self, log: LogName, partition: u32, from: Offset, error: KafkaError) -> Option<LogError> {
        match self.watermarks(log, partition).await {
            Ok((oldest, _)) if from < oldest => Some(LogError::Trimmed { log, partition, offset: from, oldest }),
            _ if is_transient(&error) => None,
            _ => Some(storage(&format!("reading {}/{partition}", self.config.topic(log)), error)),
        }
    }
}

/// A reader out of the pool for one read. Dropping it, which a dropped read
/// does, puts the reader back: it consumes a record only in the same poll that
/// returns it, so its position is still right. A reader that met an error is
/// taken out with [`Lease::discard`] instead.
struct Lease<'a> {
    log: &'a KafkaLog,
    key: (LogName, u32),
    reader: Option<Reader>,
}

impl Lease<'_> {
    fn reader(&mut self) -> &mut Reader {
        self.reader.as_mut().expect("a lease holds its reader until dropped or discarded")
    }

    fn discard(&mut self) {
        self.reader = None;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            self.log.return_reader(self.key.0, self.key.1, reader);
        }
    }
}

/// Creating a topic that exists is not an error: the layout check that
/// follows compares its partition counts.
async fn create_missing_topics(
    admin: &AdminClient<DefaultClientContext>,
    config: &KafkaLogConfig,
    layout: LogLayout,
) -> Result<(), LogError> {
    let names: Vec<String> = LogName::ALL.iter().map(|&log| config.topic(log)).collect();
    let topics: Vec<NewTopic> = LogName::ALL
        .iter()
        .zip(&names)
        .map(|(&log, name)| {
            NewTopic::new(name, layout.partitions(log) as i32, TopicReplication::Fixed(config.replication_factor))
                .set("retention.ms", "-1")
                .set("retention.bytes", "-1")
                .set("max.message.bytes", MAX_RECORD_BYTES)
        })
        .collect();
    let options = admin_options(config);
    let results = admin.create_topics(&topics, &options).await.map_err(|e| storage("creating topics", e))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => return Err(storage(&format!("creating topic {topic}"), code)),
        }
    }
    Ok(())
}

fn admin_options(config: &KafkaLogConfig) -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(config.request_timeout))
        .operation_timeout(Some(config.request_timeout))
}

fn log_index(log: LogName) -> usize {
    match log {
        LogName::Commands => 0,
        LogName::Tasks => 1,
        LogName::Visibility => 2,
    }
}

/// Errors of a partition whose leader is being elected or of a topic being
/// created; librdkafka's consumers and producer get over them on their own.
fn is_transient(error: &KafkaError) -> bool {
    use RDKafkaErrorCode::*;
    matches!(
        error.rdkafka_error_code(),
        Some(
            NotLeaderForPartition
                | LeaderNotAvailable
                | UnknownTopicOrPartition
                | UnknownPartition
                | NotCoordinator
                | BrokerTransportFailure
                | AllBrokersDown
                | RequestTimedOut
        )
    )
}

/// The offset of a call's first record, after checking the records kept
/// their order. Within this process they are also contiguous (appends to a
/// partition are enqueued one call at a time); another process appending to
/// the same partition at the same moment may store its records between
/// them, which nothing relies on: a reader takes records one by one.
fn first_in_order(offsets: &[Offset]) -> Result<Offset, String> {
    if offsets.windows(2).all(|pair| pair[0] < pair[1]) {
        Ok(offsets[0])
    } else {
        Err(format!("the records of one call were stored out of order, at offsets {offsets:?}"))
    }
}

fn to_record(message: &BorrowedMessage<'_>) -> LogRecord {
    LogRecord {
        offset: message.offset() as Offset,
        payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
    }
}

#[async_trait]
impl Log for KafkaLog {
    fn layout(&self) -> LogLayout {
        self.layout
    }

    async fn append(&self, log: LogName, partition: u32, records: Vec<Bytes>) -> Result<Offset, LogError> {
        check_partition(&self.layout, log, partition)?;
        if records.is_empty() {
            return self.end_offset(log, partition).await;
        }
        let deliveries = self.enqueue(log, partition, &records).await?;
        let delivered = try_join_all(deliveries).await.map_err(|_| LogError::Closed)?;
        let action = format!("appending to {log}/{partition}");
        let offsets: Vec<Offset> = delivered
            .into_iter()
            .map(|delivery| delivery.map(|d| d.offset as Offset).map_err(|(e, _)| storage(&action, e)))
            .collect::<Result<_, _>>()?;
        first_in_order(&offsets).map_err(|e| storage(&action, e))
    }

    /// Waits in `recv`, which is cancel-safe, so a dropped read loses
    /// nothing and its reader goes back to the pool where it was.
    async fn read(&self, log: LogName, partition: u32, from: Offset, max: usize) -> Result<Vec<LogRecord>, LogError> {
        check_partition(&self.layout, log, partition)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut lease = self.lease_reader(log, partition, from).await?;
        let reader = lease.reader();
        let mut records = Vec::new();
        while records.is_empty() {
            match reader.consumer.recv().await {
                // Older records can only be left from before a reassignment.
                Ok(message) if (message.offset() as Offset) < reader.next => {}
                Ok(message) => records.push(to_record(&message)),
                Err(error) => match self.consumption_error(log, partition, from, error).await {
                    // librdkafka fetches again once the partition has a leader.
                    None => {}
                    Some(error) => {
                        lease.discard();
                        return Err(error);
                    }
                },
            }
        }
        // Whatever is already fetched is returned without waiting; an error
        // here ends the batch and discards the reader, so the next read,
        // on a fresh one, meets it.
        let mut failed = false;
        while records.len() < max {
            match reader.consumer.recv().now_or_never() {
                Some(Ok(message)) if (message.offset() as Offset) < reader.next => {}
                Some(Ok(message)) => records.push(to_record(&message)),
                Some(Err(_)) => {
                    failed = true;
                    break;
                }
                None => break,
            }
        }
        reader.next = records.last().map_or(from, |record| record.offset + 1);
        if failed {
            lease.discard();
        }
        Ok(records)
    }

    async fn end_offset(&self, log: LogName, partition: u32) -> Result<Offset, LogError> {
        check_partition(&self.layout, log, partition)?;
        Ok(self.watermarks(log, partition).await?.1)
    }

    /// Stops at the end of the partition like the embedded log: Kafka
    /// refuses to delete records that do not exist yet.
    async fn trim(&self, log: LogName, partition: u32, before: Offset) -> Result<(), LogError> {
        check_partition(&self.layout, log, partition)?;
        let (oldest, next) = self.watermarks(log, partition).await?;
        let before = before.min(next);
        if before <= oldest {
            return Ok(());
        }
        let topic = self.config.topic(log);
        let mut offsets = TopicPartitionList::new();
        offsets
            .add_partition_offset(&topic, partition as i32, KafkaOffset::Offset(before as i64))
            .map_err(|e| storage("trimming", e))?;
        let deleted = self
            .admin
            .delete_records(&offsets, &admin_options(&self.config))
            .await
            .map_err(|e| storage(&format!("trimming {topic}/{partition}"), e))?;
        for element in deleted.elements() {
            element.error().map_err(|e| storage(&format!("trimming {topic}/{partition}"), e))?;
        }
        Ok(())
    }
}
