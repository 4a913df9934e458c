#!/bin/sh
# The Kafka container's entrypoint in compose: SASL/SCRAM-SHA-512 for clients, the
# StandardAuthorizer with nothing allowed that no ACL allows, the users written into the
# metadata log when the volume is formatted (the first start), then the broker.
# Passwords come from the environment (.env, `${VAR:?}` in docker-compose.yml); users
# and passwords are set once, at format time: a changed password needs
# `docker compose down -v` (or kafka-configs.sh --alter --add-config SCRAM-SHA-512=...).
# ACLs are created afterwards by the one-shot `topics` job (python -m infra.acls).
set -eu
: "${KAFKA_ADMIN_PASSWORD:?}" "${KAFKA_CONTROLLER_PASSWORD:?}" "${KAFKA_OPERATORS_PASSWORD:?}"
: "${KAFKA_MEDIATION_PASSWORD:?}" "${KAFKA_ENTERPRISE_PASSWORD:?}"
: "${KAFKA_OUTREACH_PASSWORD:?}" "${KAFKA_NOTIFIER_PASSWORD:?}"
LOG_DIRS=/var/lib/kafka/data
CONF=/tmp/station-kafka
mkdir -p "$CONF"
chmod 700 "$CONF"
umask 077
SCRAM=org.apache.kafka.common.security.scram.ScramLoginModule
PLAIN=org.apache.kafka.common.security.plain.PlainLoginModule
cat > "$CONF/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@kafka:9093
listeners=SASL_PLAINTEXT://:9092,CONTROLLER://:9093
advertised.listeners=SASL_PLAINTEXT://kafka:9092
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_PLAINTEXT
listener.security.protocol.map=SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=$SCRAM required username="admin" password="$KAFKA_ADMIN_PASSWORD";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=$PLAIN required username="controller" password="$KAFKA_CONTROLLER_PASSWORD" user_controller="$KAFKA_CONTROLLER_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:admin;User:controller
log.dirs=$LOG_DIRS
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
PROPERTIES
# what the healthcheck signs in with
cat > "$CONF/admin.properties" <<PROPERTIES
security.protocol=SASL_PLAINTEXT
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=$SCRAM required username="admin" password="$KAFKA_ADMIN_PASSWORD";
PROPERTIES
if [ ! -f "$LOG_DIRS/meta.properties" ]; then
  /opt/kafka/bin/kafka-storage.sh format --config "$CONF/server.properties" \
    --cluster-id "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
    --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=operators,password=$KAFKA_OPERATORS_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=mediation,password=$KAFKA_MEDIATION_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=enterprise,password=$KAFKA_ENTERPRISE_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=outreach,password=$KAFKA_OUTREACH_PASSWORD]" \
    --add-scram "SCRAM-SHA-512=[name=notifier,password=$KAFKA_NOTIFIER_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$CONF/server.properties"
