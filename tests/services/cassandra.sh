#!/usr/bin/env bash
# A single-node Apache Cassandra 5.0 for Temper's tests, from its Maven
# Central artifacts, run on Java 17 (Cassandra 5.0 does not start on 24+).
#
#   tests/services/cassandra.sh start    start it (or find it running) and wait for CQL
#   tests/services/cassandra.sh stop     stop it
#   tests/services/cassandra.sh kill     kill its JVM with SIGKILL, as a crash would
#   tests/services/cassandra.sh status   exit 0 if CQL answers
#
# Everything lives under $TEMPER_SERVICES_DIR/cassandra (default: target/services
# in the repository): the jars (downloaded once by Maven, cached in ~/.m2 too),
# the configuration, the data, the log and the pid file. A second start is
# fast: only the JVM starts. CASSANDRA_JARS_DIR puts the jars elsewhere, so
# instances living in other directories share one download.
#
# Ports: CASSANDRA_PORT (CQL, default 9042) and CASSANDRA_STORAGE_PORT
# (internode, default 7000) are the only ones it listens on: no
# cassandra.jmx.*.port property is set, so no JMX port (7199) opens, and the
# SSL storage port stays closed without internode encryption. Two instances
# with distinct values of both run side by side. The storage port is bound
# without SO_REUSEADDR: a port with a connection in TIME_WAIT is refused.
#
# CASSANDRA_COMMITLOG_SYNC: `periodic` (default: the commit log is synced
# every 10 s, fast, and a crash of the JVM loses what was acknowledged since
# the last sync, as replay stops at the last sync marker) or `batch` (every
# write is synced before it is acknowledged: what a test that kills the only
# replica needs, or acknowledged writes vanish under it).
#
# A secured instance, opt-in (the configuration is rewritten at each start):
#   CASSANDRA_AUTH=password       PasswordAuthenticator; superuser cassandra/cassandra
#   CASSANDRA_TLS_DIR=dir         CQL over TLS only: dir/node.pem holds the node's
#                                 PEM private key (PKCS#8, unencrypted) and its
#                                 certificate chain, dir/ca.pem the CAs trusted
#                                 for client certificates
#   CASSANDRA_TLS_CLIENT_AUTH=required   clients must present a certificate
set -euo pipefail

NAME=cassandra.sh
# shellcheck source=tests/services/jvm.sh
source "$(dirname "$0")/jvm.sh"

VERSION="${CASSANDRA_VERSION:-5.0.6}"
PORT="${CASSANDRA_PORT:-9042}"
STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-7000}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/cassandra"
LIB="${CASSANDRA_JARS_DIR:-$HOME_DIR}/lib-$VERSION"
PID_FILE="$HOME_DIR/cassandra.pid"
LOG="$HOME_DIR/cassandra.log"
START_TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
COMMITLOG_SYNC="${CASSANDRA_COMMITLOG_SYNC:-periodic}"
AUTH="${CASSANDRA_AUTH:-none}"
TLS_DIR="${CASSANDRA_TLS_DIR:-}"
TLS_CLIENT_AUTH="${CASSANDRA_TLS_CLIENT_AUTH:-not-required}"


cql_answers() {
  port_answers "$PORT"
}

fetch_jars() {
  fetch_jars_once "cassandra-all $VERSION" "\
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>$VERSION</version>
    </dependency>"
}

commitlog_sync_settings() {
  case "$COMMITLOG_SYNC" in
    periodic) printf 'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms' ;;
    batch) printf 'commitlog_sync: batch' ;;
    *) echo "cassandra.sh: CASSANDRA_COMMITLOG_SYNC must be periodic or batch, not $COMMITLOG_SYNC" >&2; exit 2 ;;
  esac
}

write_config() {
  local data="$HOME_DIR/data" sync
  sync="$(commitlog_sync_settings)"
  mkdir -p "$data"
  cat > "$HOME_DIR/cassandra.yaml" <<YAML
cluster_name: temper-test
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$STORAGE_PORT"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $STORAGE_PORT
native_transport_port: $PORT
start_native_transport: true
$sync
# Paxos v2 (Cassandra 4.1+): fewer round trips per conditional write than v1.
paxos_variant: v2
data_file_directories:
  - $data/data
commitlog_directory: $data/commitlog
saved_caches_directory: $data/saved_caches
hints_directory: $data/hints
cdc_raw_directory: $data/cdc_raw
YAML
  auth_config >> "$HOME_DIR/cassandra.yaml"
  tls_config >> "$HOME_DIR/cassandra.yaml"
  cat > "$HOME_DIR/logback.xml" <<XML
<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>$LOG</file>
    <encoder><pattern>%date %level [%thread] %logger{20} %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

auth_config() {
  case "$AUTH" in
    none) ;;
    password)
      echo "authenticator:"
      echo "  class_name: org.apache.cassandra.auth.PasswordAuthenticator"
      ;;
    *) echo "cassandra.sh: CASSANDRA_AUTH is none or password, not '$AUTH'" >&2; exit 2 ;;
  esac
}

# PEM files rather than Java keystores, so tests can make them without keytool.
tls_config() {
  [[ -n "$TLS_DIR" ]] || return 0
  local file
  for file in node.pem ca.pem; do
    [[ -r "$TLS_DIR/$file" ]] || { echo "cassandra.sh: CASSANDRA_TLS_DIR has no readable $file" >&2; exit 2; }
  done
  local require
  case "$TLS_CLIENT_AUTH" in
    required) require=true ;;
    not-required) require=false ;;
    *) echo "cassandra.sh: CASSANDRA_TLS_CLIENT_AUTH is required or not-required, not '$TLS_CLIENT_AUTH'" >&2; exit 2 ;;
  esac
  cat <<YAML
client_encryption_options:
  enabled: true
  optional: false
  ssl_context_factory:
    class_name: org.apache.cassandra.security.PEMBasedSslContextFactory
  keystore: $TLS_DIR/node.pem
  truststore: $TLS_DIR/ca.pem
  require_client_auth: $require
YAML
}

# The JVM options Cassandra's conf/jvm17-server.options asks for on Java 17.
# 2 GiB of heap: the test run creates a keyspace per test (cluster tests,
# benchmarks), and with 1 GiB a long session ran out of heap.
jvm_options() {
  local jamm
  jamm="$(ls "$LIB"/jamm-*.jar | head -1)"
  echo -Xms512m -Xmx${CASSANDRA_HEAP:-2g} -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1
  echo -Djdk.attach.allowAttachSelf=true -javaagent:"$jamm"
  local export_ opens
  for export_ in java.base/jdk.internal.misc java.management.rmi/com.sun.jmx.remote.internal.rmi java.rmi/sun.rmi.registry \
    java.rmi/sun.rmi.server java.sql/java.sql java.base/java.lang.ref jdk.unsupported/sun.misc \
    jdk.compiler/com.sun.tools.javac.file jdk.attach/sun.tools.attach; do
    echo --add-exports "$export_=ALL-UNNAMED"
  done
  for opens in java.base/java.lang.module java.base/jdk.internal.loader java.base/jdk.internal.ref \
    java.base/jdk.internal.reflect java.base/jdk.internal.math java.base/jdk.internal.module \
    java.base/jdk.internal.util.jar jdk.management/com.sun.management.internal java.base/sun.nio.ch java.base/java.io \
    java.base/java.lang.reflect jdk.compiler/com.sun.tools.javac java.base/java.lang java.base/java.util; do
    echo --add-opens "$opens=ALL-UNNAMED"
  done
  echo -Dio.netty.tryReflectionSetAccessible=true
  echo -Dcassandra.config=file://"$HOME_DIR/cassandra.yaml" -Dcassandra.storagedir="$HOME_DIR/data"
  echo -Dcassandra-foreground=yes -Dlogback.configurationFile="$HOME_DIR/logback.xml"
  # A single node has nobody to wait for.
  echo -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=0
  # The default superuser is otherwise created 10 s after start.
  echo -Dcassandra.superuser_setup_delay_ms=0
}

report_early_exit() {
  echo "cassandra.sh: Cassandra exited while starting; last lines of its output:"
  tail -n 40 "$HOME_DIR/stdout.log" "$LOG" || true
}

start() {
  one_start_at_a_time
  if cql_answers; then
    echo "cassandra.sh: CQL already answers on 127.0.0.1:$PORT"
    return
  fi
  local java
  java="$(java17)"
  fetch_jars
  write_config
  # shellcheck disable=SC2046
  nohup "$java" $(jvm_options) -cp "$LIB/*" org.apache.cassandra.service.CassandraDaemon >"$HOME_DIR/stdout.log" 2>&1 8>&- &
  echo $! > "$PID_FILE"
  wait_until_ready cql_answers report_early_exit
  echo "cassandra.sh: Cassandra $VERSION ready on 127.0.0.1:$PORT after ${WAITED}s"
}



case "${1:-}" in
  start) start ;;
  stop) stop_service "$PID_FILE" "$PORT" "$STORAGE_PORT" ;;
  kill) kill_service "$PID_FILE" "$PORT" "$STORAGE_PORT" ;;
  status) cql_answers ;;
  *) echo "usage: $0 start|stop|kill|status" >&2; exit 2 ;;
esac
