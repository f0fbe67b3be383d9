#!/usr/bin/env bash
# A single-node Apache Kafka 4 (KRaft: one process is both broker and
# controller) for Temper's tests, from its Maven Central artifacts, run on
# Java 17.
#
#   tests/services/kafka.sh start    start it (or find it running) and wait until it serves
#   tests/services/kafka.sh stop     stop it (SIGTERM, a controlled shutdown; SIGKILL after 60 s)
#   tests/services/kafka.sh kill     kill its JVM with SIGKILL, as a crash would
#   tests/services/kafka.sh status   exit 0 if the broker port answers
#
# Everything lives under $TEMPER_SERVICES_DIR/kafka (default: target/services
# in the repository): the jars (downloaded once by Maven, cached in ~/.m2 too),
# server.properties, log4j2.xml, the data (log.dirs, with the KRaft metadata
# log), the log and the pid file. The storage is formatted at the first start
# only, so a later start keeps the topics and their records and only the JVM
# starts. KAFKA_JARS_DIR puts the jars elsewhere, so instances living in other
# directories share one download. Ready means the broker port answers and the
# log says "Kafka Server started" (the broker is unfenced by then).
#
# Kafka's command-line tools come with the jars (Kafka Connect does not), e.g.
# with LIB the lib-<version> folder:
#   java -cp "$LIB/*" org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#   java -cp "$LIB/*" org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server ... --topic t --from-beginning
#
# Ports: KAFKA_PORT (the PLAINTEXT listener clients use, default 9092) and
# KAFKA_CONTROLLER_PORT (the KRaft controller listener, default 9093) are the
# only ones it listens on (no JMX). Two instances with distinct values of both
# and distinct TEMPER_SERVICES_DIR run side by side. Topics are not created on
# first use (auto.create.topics.enable=false): Temper creates its own.
#
# After a kill, the next start takes a few seconds more: the controller, back
# from its log, lets the broker register again only once the dead one's
# session has expired (broker.session.timeout.ms, lowered here to 4 s from 9),
# and the partitions, whose one replica shut down uncleanly, come back by an
# unclean leader election of that replica, which loses nothing.
#
# KAFKA_FLUSH_EVERY_MESSAGE=1 sets log.flush.interval.messages=1: each record
# is fsynced before it is acknowledged. Kafka acknowledges (with acks=all too,
# which with one broker means the leader's log alone) once the record is in
# the OS page cache, counting on other replicas, not on fsync, for durability.
# A kill -9 of the JVM loses no acknowledged record without the knob (the page
# cache outlives the process; checked by hand: records produced with acks=all
# just before a kill were all there after the restart), so a crash test that
# kills only the process does not need it; a test that means to lose the
# machine's unsynced writes would, and pays an fsync per write. Default 0:
# Kafka's own default, flushing left to the OS.
set -euo pipefail

NAME=kafka.sh
# shellcheck source=tests/services/jvm.sh
source "$(dirname "$0")/jvm.sh"

VERSION="${KAFKA_VERSION:-4.3.1}"
LOG4J_VERSION="${KAFKA_LOG4J_VERSION:-2.25.4}"
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
HOME_DIR="${TEMPER_SERVICES_DIR:-$REPO/target/services}/kafka"
LIB="${KAFKA_JARS_DIR:-$HOME_DIR}/lib-$VERSION"
PID_FILE="$HOME_DIR/kafka.pid"
LOG="$HOME_DIR/kafka.log"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-120}"
FLUSH_EVERY_MESSAGE="${KAFKA_FLUSH_EVERY_MESSAGE:-0}"
# A fixed cluster id (base64 of 16 bytes, as Kafka's random-uuid prints
# them): formatting needs one, and a fixed one spares a JVM start.
CLUSTER_ID="${KAFKA_CLUSTER_ID:-dGVtcGVyLXRlc3Qta2Fmaw}"
# The line KafkaRaftServer logs once the broker and the controller are up.
STARTED_MESSAGE="Kafka Server started"


broker_answers() {
  port_answers "$PORT"
}

# The server's artifact does not bring an SLF4J 1.7 binding (the release's
# libs/ has log4j's), without which the server logs nothing. kafka-tools
# brings the command-line tools; Kafka Connect, which it also depends on, is
# left out.
fetch_jars() {
  fetch_jars_once "kafka_2.13 $VERSION" "\
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka-tools</artifactId>
      <version>$VERSION</version>
      <exclusions>
        <exclusion><groupId>org.apache.kafka</groupId><artifactId>connect-runtime</artifactId></exclusion>
        <exclusion><groupId>com.fasterxml.jackson.jakarta.rs</groupId><artifactId>*</artifactId></exclusion>
      </exclusions>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>"
}

flush_settings() {
  case "$FLUSH_EVERY_MESSAGE" in
    0) ;;
    1) echo "log.flush.interval.messages=1" ;;
    *) echo "kafka.sh: KAFKA_FLUSH_EVERY_MESSAGE must be 0 or 1, not $FLUSH_EVERY_MESSAGE" >&2; exit 2 ;;
  esac
}

write_config() {
  local flush
  flush="$(flush_settings)"
  mkdir -p "$HOME_DIR/data"
  cat > "$HOME_DIR/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$HOME_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
broker.heartbeat.interval.ms=1000
broker.session.timeout.ms=4000
auto.create.topics.enable=false
$flush
PROPERTIES
  cat > "$HOME_DIR/log4j2.xml" <<XML
<Configuration status="warn">
  <Appenders>
    <File name="FILE" fileName="$LOG">
      <PatternLayout pattern="%d %p [%t] %c{1} %m%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="FILE"/></Root>
    <!-- Not the hundreds of lines of every configuration value, at each start. -->
    <Logger name="org.apache.kafka.common.config.AbstractConfig" level="WARN"/>
  </Loggers>
</Configuration>
XML
}

jvm_options() {
  echo -Xms512m -Xmx512m -XX:+ExitOnOutOfMemoryError -XX:+UseG1GC -XX:MaxGCPauseMillis=20
  echo -Djava.awt.headless=true -Dlog4j2.configurationFile="$HOME_DIR/log4j2.xml"
}

# Formats the data directory for KRaft, at the first start only: what has
# been formatted holds a meta.properties, and formatting again is refused.
format_storage() {
  local java="$1"
  [[ -f "$HOME_DIR/data/meta.properties" ]] && return
  # shellcheck disable=SC2046
  if ! "$java" $(jvm_options) -cp "$LIB/*" kafka.tools.StorageTool format \
      -t "$CLUSTER_ID" -c "$HOME_DIR/server.properties" >"$HOME_DIR/format.log" 2>&1; then
    echo "kafka.sh: formatting the storage failed:" >&2
    cat "$HOME_DIR/format.log" >&2
    exit 1
  fi
}

# Counts the lines saying the server started, from byte $1 of the log on.
started_since() {
  [[ -f "$LOG" ]] || { echo 0; return; }
  tail -c +"$(($1 + 1))" "$LOG" | grep -c "$STARTED_MESSAGE" || true
}

# Ready: the broker answers and has logged its start since this launch
# (LOG_FROM: the log's size at the launch).
started_since_launch() {
  broker_answers && [[ "$(started_since "$LOG_FROM")" != 0 ]]
}

report_early_exit() {
  echo "kafka.sh: Kafka exited while starting; its errors, then the last lines of its output:"
  tail -c +"$((LOG_FROM + 1))" "$LOG" | grep -E '^([0-9-]+ [0-9:,]+ (ERROR|FATAL) |Caused by: )' || true
  tail -n 40 "$HOME_DIR/stdout.log" "$LOG" || true
}

start() {
  one_start_at_a_time
  if broker_answers; then
    echo "kafka.sh: Kafka already answers on 127.0.0.1:$PORT"
    return
  fi
  local java
  java="$(java17)"
  fetch_jars
  write_config
  format_storage "$java"
  LOG_FROM=0
  [[ -f "$LOG" ]] && LOG_FROM="$(stat -c %s "$LOG")"
  # shellcheck disable=SC2046
  nohup "$java" $(jvm_options) -cp "$LIB/*" kafka.Kafka "$HOME_DIR/server.properties" >"$HOME_DIR/stdout.log" 2>&1 8>&- &
  echo $! > "$PID_FILE"
  wait_until_ready started_since_launch report_early_exit
  echo "kafka.sh: Kafka $VERSION ready on 127.0.0.1:$PORT (controller $CONTROLLER_PORT) after ${WAITED}s"
}




case "${1:-}" in
  start) start ;;
  stop) stop_service "$PID_FILE" "$PORT" "$CONTROLLER_PORT" ;;
  kill) kill_service "$PID_FILE" "$PORT" "$CONTROLLER_PORT" ;;
  status) broker_answers ;;
  *) echo "usage: $0 start|stop|kill|status" >&2; exit 2 ;;
esac
