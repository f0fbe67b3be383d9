//! The log conformance suite against a real Kafka, started by
//! `tests/services/kafka.sh` (a no-op if one already answers). Each check
//! gets topics of its own (a unique prefix), so checks run in parallel
//! without seeing each other, and deletes them at the end. The factory's
//! later opens create a new `KafkaLog` on the same topics: that is how
//! durability is checked. The shared Kafka is left running; .ci/run stops it.
//!
//! Without `java` the checks print why and pass: the only allowed skip.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use temper_engine::log::conformance::{self as log_conformance, LogFactory};
use temper_engine::log::kafka::{KafkaLog, KafkaLogConfig};
use temper_engine::log::{Log, LogError, LogLayout, LogName};

mod services;

struct KafkaFactory {
    config: KafkaLogConfig,
}

impl KafkaFactory {
    fn new() -> KafkaFactory {
        KafkaFactory {
            config: KafkaLogConfig {
                bootstrap_servers: bootstrap_servers(),
                topic_prefix: unique_prefix(),
                ..KafkaLogConfig::default()
            },
        }
    }

    async fn delete_topics(&self) {
        let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &self.config.bootstrap_servers)
            .create()
            .expect("an admin client to delete the test topics");
        let topics: Vec<String> =
            LogName::ALL.iter().map(|log| format!("{}{}", self.config.topic_prefix, log.as_str())).collect();
        let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(10)));
        admin.delete_topics(&topics, &options).await.expect("deleting the test topics");
    }
}

#[async_trait]
impl LogFactory for KafkaFactory {
    async fn open(&self) -> Arc<dyn Log> {
        Arc::new(KafkaLog::open(self.config.clone(), log_conformance::LAYOUT).await.expect("opening the Kafka log"))
    }
}

fn bootstrap_servers() -> String {
    format!("127.0.0.1:{}", std::env::var("KAFKA_PORT").unwrap_or_else(|_| "9092".to_string()))
}

/// Unique across runs against the same broker (the time), processes (the
/// pid) and checks within one (a counter); Kafka topic names allow `.`.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |t| t.as_nanos());
    format!("conformance.{nanos}.{}.{}.", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs one check on topics of its own, then deletes them.
async fn check_with_kafka<Check, Fut>(check: Check)
where
    Check: FnOnce(&'static KafkaFactory) -> Fut,
    Fut: Future<Output = ()>,
{
    if !services::started("kafka.sh", "the log conformance suite").await {
        return;
    }
    let factory: &'static KafkaFactory = Box::leak(Box::new(KafkaFactory::new()));
    check(factory).await;
    factory.delete_topics().await;
}

macro_rules! conformance_tests {
    ($($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                check_with_kafka(|factory| log_conformance::$check(factory)).await;
            }
        )*
    };
}

temper_engine::with_log_checks!(conformance_tests {});

/// Topics that exist with other partition counts are refused, naming both
/// layouts, rather than silently sending records to the wrong places.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_with_other_partition_counts_are_refused() {
    check_with_kafka(|factory| async move {
        drop(factory.open().await);
        let other = LogLayout { commands: 8, ..log_conformance::LAYOUT };
        match KafkaLog::open(factory.config.clone(), other).await {
            Err(LogError::LayoutMismatch { stored, requested }) => {
                assert_eq!((stored, requested), (log_conformance::LAYOUT, other));
            }
            Ok(_) => panic!("opened topics with 4 command partitions as if they had 8"),
            Err(other) => panic!("expected LayoutMismatch, got {other}"),
        }
    })
    .await;
}

/// A cluster that cannot be reached fails `open` within its request timeout
/// instead of hanging.
#[tokio::test]
async fn an_unreachable_cluster_fails_to_open() {
    // Nothing listens on port 1 of the loopback interface.
    let config = KafkaLogConfig {
        bootstrap_servers: "127.0.0.1:1".to_string(),
        request_timeout: Duration::from_secs(2),
        ..KafkaLogConfig::default()
    };
    let opening = KafkaLog::open(config, log_conformance::LAYOUT);
    match tokio::time::timeout(Duration::from_secs(30), opening).await {
        Ok(Ok(_)) => panic!("opened a log on a cluster that does not exist"),
        Ok(Err(LogError::Storage(message))) => assert!(message.contains("kafka"), "{message}"),
        Ok(Err(other)) => panic!("expected a storage error, got {other}"),
        Err(_) => panic!("opening on an unreachable cluster did not fail within 30 s"),
    }
}
