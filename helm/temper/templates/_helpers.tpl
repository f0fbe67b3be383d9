{{/* The roles, each a Deployment of its own. */}}
{{- define "temper.roles" -}}
gateway engine projections
{{- end -}}

{{- define "temper.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "temper.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "temper.selectorLabels" -}}
app.kubernetes.io/name: {{ include "temper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "temper.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "temper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "temper.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* Where the config file is mounted in every container. */}}
{{- define "temper.configPath" -}}/etc/temper/temper.yaml{{- end -}}
{{- define "temper.tlsDir" -}}/etc/temper/cassandra-tls{{- end -}}

{{/*
The config file Temper reads (`temper server start --config`, `temper schema
setup --config`); keys as in gateway/src/config_file.rs. The Cassandra user
and password are not here: they come from cassandra.existingSecret as
TEMPER_CASSANDRA_USER and TEMPER_CASSANDRA_PASSWORD.
*/}}
{{- define "temper.config" -}}
{{- $c := .Values.cassandra -}}
{{- $k := .Values.kafka -}}
server:
  address: {{ printf "0.0.0.0:%d" (int .Values.server.port) | quote }}
  shards: {{ int .Values.server.shards }}
  namespaces: {{ .Values.server.namespaces | toJson }}
  data_dir: /var/lib/temper
persistence:
  store: cassandra
  cassandra:
    contact_points: {{ $c.contactPoints | toJson }}
    keyspace: {{ $c.keyspace | quote }}
    {{- with $c.consistency }}
    consistency: {{ . | quote }}
    {{- end }}
    {{- with $c.serialConsistency }}
    serial_consistency: {{ . | quote }}
    {{- end }}
    {{- if $c.maxConns }}
    max_conns: {{ int $c.maxConns }}
    {{- end }}
    {{- if $c.maxConnsPerShard }}
    max_conns_per_shard: {{ int $c.maxConnsPerShard }}
    {{- end }}
    {{- with $c.connectTimeout }}
    connect_timeout: {{ . | quote }}
    {{- end }}
    {{- with $c.requestTimeout }}
    request_timeout: {{ . | quote }}
    {{- end }}
    {{- if $c.tls.enabled }}
    tls:
      enabled: true
      ca_file: {{ printf "%s/%s" (include "temper.tlsDir" .) $c.tls.caKey | quote }}
      {{- if $c.tls.certKey }}
      cert_file: {{ printf "%s/%s" (include "temper.tlsDir" .) $c.tls.certKey | quote }}
      key_file: {{ printf "%s/%s" (include "temper.tlsDir" .) $c.tls.keyKey | quote }}
      {{- end }}
      enable_host_verification: {{ $c.tls.enableHostVerification }}
      {{- with $c.tls.serverName }}
      server_name: {{ . | quote }}
      {{- end }}
    {{- end }}
  log: kafka
  kafka:
    bootstrap_servers: {{ join "," $k.brokers | quote }}
    topic_prefix: {{ $k.topicPrefix | quote }}
    replication_factor: {{ int $k.replicationFactor }}
    {{- with $k.linger }}
    linger: {{ . | quote }}
    {{- end }}
cluster:
  heartbeat_interval: {{ .Values.cluster.heartbeatInterval | quote }}
  lease: {{ .Values.cluster.lease | quote }}
metrics:
  address: {{ ternary (printf "0.0.0.0:%d" (int .Values.metrics.port)) "" .Values.metrics.enabled | quote }}
{{- end -}}

{{/* Checks across values that values.schema.json cannot express. */}}
{{- define "temper.validate" -}}
{{- $tls := .Values.cassandra.tls -}}
{{- if and $tls.enabled (not $tls.existingSecret) -}}
{{- fail "cassandra.tls.existingSecret: set it to the Secret holding the CA (and client certificate) when cassandra.tls.enabled is true" -}}
{{- end -}}
{{- if ne (empty $tls.certKey) (empty $tls.keyKey) -}}
{{- fail "cassandra.tls.certKey and cassandra.tls.keyKey: set both (mutual TLS) or neither" -}}
{{- end -}}
{{- if and $tls.serverName (not $tls.enableHostVerification) -}}
{{- fail "cassandra.tls.serverName: it is never checked while cassandra.tls.enableHostVerification is false" -}}
{{- end -}}
{{- if and .Values.cassandra.maxConns .Values.cassandra.maxConnsPerShard -}}
{{- fail "cassandra.maxConns and cassandra.maxConnsPerShard: set one, not both" -}}
{{- end -}}
{{- end -}}

{{/* Volumes every Temper container mounts: the config, /tmp, and the Cassandra TLS files. */}}
{{- define "temper.volumeMounts" -}}
- name: config
  mountPath: /etc/temper/temper.yaml
  subPath: temper.yaml
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.cassandra.tls.enabled }}
- name: cassandra-tls
  mountPath: {{ include "temper.tlsDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{/* The volumes behind temper.volumeMounts; configMap: the ConfigMap's name. */}}
{{- define "temper.volumes" -}}
- name: config
  configMap:
    name: {{ .configMap }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .root.Values.cassandra.tls.enabled }}
- name: cassandra-tls
  secret:
    secretName: {{ .root.Values.cassandra.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{/* The Cassandra credentials from cassandra.existingSecret, and the extra variables. */}}
{{- define "temper.credentialsEnv" -}}
{{- with .Values.cassandra.existingSecret }}
- name: TEMPER_CASSANDRA_USER
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.cassandra.userKey }}
- name: TEMPER_CASSANDRA_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.cassandra.passwordKey }}
{{- end }}
{{- end -}}

{{- define "temper.podSpecCommon" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.serviceAccountName }}
serviceAccountName: {{ . }}
{{- end }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}
