{{/* Chart name, overridable. */}}
{{- define "blaxel-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: RELEASE-CHART unless the release name already contains the chart name. */}}
{{- define "blaxel-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "blaxel-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "blaxel-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "blaxel-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "blaxel-operator.labels" -}}
helm.sh/chart: {{ include "blaxel-operator.chart" . }}
{{ include "blaxel-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: blaxel-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "blaxel-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "blaxel-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "blaxel-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Name of the Secret holding apiKey: the existing one or the chart-made one ("" if none). */}}
{{- define "blaxel-operator.apiKeySecretName" -}}
{{- if .Values.blaxel.existingSecret }}
{{- .Values.blaxel.existingSecret }}
{{- else if .Values.blaxel.apiKey }}
{{- printf "%s-credentials" (include "blaxel-operator.fullname" .) }}
{{- end }}
{{- end }}

{{/* True ("true") when the operator watches every namespace. */}}
{{- define "blaxel-operator.clusterWide" -}}
{{- if empty .Values.watch.namespaces }}true{{ end }}
{{- end }}

{{/*
Cross-field checks the JSON schema cannot express. Called from the Deployment so that every
render (install, upgrade, template) fails early with a clear message.
*/}}
{{- define "blaxel-operator.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.peering.enabled) }}
{{- fail (printf "replicaCount=%d requires peering.enabled=true: without Kopf peering every replica would reconcile the same BlaxelAgents" (int .Values.replicaCount)) }}
{{- end }}
{{- if and .Values.blaxel.apiKey .Values.blaxel.existingSecret }}
{{- fail "set either blaxel.apiKey or blaxel.existingSecret, not both" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "metrics.serviceMonitor.enabled=true requires metrics.service.enabled=true" }}
{{- end }}
{{- if eq (int .Values.operator.metricsPort) (int .Values.operator.healthPort) }}
{{- fail "operator.metricsPort and operator.healthPort must differ" }}
{{- end }}
{{- end }}

{{/* A shard's Deployment name (argument: dict "root" "shard" "shards"): the full name alone with one. */}}
{{- define "blaxel-operator.shardName" -}}
{{- if gt (int .shards) 1 }}
{{- printf "%s-shard-%d" (include "blaxel-operator.fullname" .root | trunc 55 | trimSuffix "-") (int .shard) }}
{{- else }}
{{- include "blaxel-operator.fullname" .root }}
{{- end }}
{{- end }}

{{/* The label that sets a shard's pods apart (none with one shard, so that its selector is as it was). */}}
{{- define "blaxel-operator.shardLabel" -}}
{{- if gt (int .shards) 1 }}
blaxel.ai/shard: {{ .shard | quote }}
{{- end }}
{{- end }}

{{/* Kopf peering names, as JSON: one per shard (NAME-i) with several shards, else NAME. */}}
{{- define "blaxel-operator.peeringNames" -}}
{{- $names := list }}
{{- if gt (int .Values.shards) 1 }}
{{- range $i := until (int .Values.shards) }}
{{- $names = append $names (printf "%s-%d" $.Values.peering.name $i) }}
{{- end }}
{{- else }}
{{- $names = list .Values.peering.name }}
{{- end }}
{{- toJson $names }}
{{- end }}

{{/*
Arguments of `blaxel-operator`: exactly the flags of `blaxel-operator run`.
Argument: dict "root" "shard" "shards" (a shard's flags, and its own peering name, with several).
*/}}
{{- define "blaxel-operator.args" -}}
{{- $shards := int .shards }}
{{- $shard := int .shard }}
{{- with .root -}}
- run
{{- if include "blaxel-operator.clusterWide" . }}
- --all-namespaces
{{- else }}
{{- range .Values.watch.namespaces }}
- --namespace={{ . }}
{{- end }}
{{- end }}
- --poll-interval={{ .Values.operator.pollInterval }}
- --deploy-poll-interval={{ .Values.operator.deployPollInterval }}
- --status-progress-interval={{ .Values.operator.statusProgressInterval }}
- --max-inflight={{ .Values.operator.maxInflight }}
- --rate-limit={{ .Values.operator.rateLimit }}
- --rate-burst={{ .Values.operator.rateBurst }}
- --metrics-port={{ .Values.operator.metricsPort }}
- --health-port={{ .Values.operator.healthPort }}
- --log-format={{ .Values.operator.logFormat }}
- --log-level={{ .Values.operator.logLevel }}
{{- with .Values.operator.clusterId }}
- --cluster-id={{ . }}
{{- end }}
{{- with .Values.operator.credentialsSecret }}
- --credentials-secret={{ . }}
{{- end }}
{{- if gt $shards 1 }}
- --shard-index={{ $shard }}
- --shard-count={{ $shards }}
{{- end }}
- --shard-lease={{ .Release.Namespace }}/{{ include "blaxel-operator.shardLeaseName" . }}
{{- if .Values.peering.enabled }}
- --peering={{ index (include "blaxel-operator.peeringNames" . | fromJsonArray) $shard }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The plural of every kind the operator manages (blaxel_operator/kinds/registry.py; a test keeps them equal).
*/}}
{{- define "blaxel-operator.plurals" -}}
{{- list "blaxelagents" "blaxelfunctions" "blaxelintegrationconnections" "blaxeljobs" "blaxelmodels" "blaxelpolicies" "blaxelvolumes" | toJson }}
{{- end }}

{{/*
RBAC rules for every kind (BlaxelAgents, BlaxelFunctions, ...), their status, Events and Secrets: what
the operator calls.
- <plural>: list+watch (Kopf's watch stream), patch (metadata.finalizers and Kopf's progress
  annotations: the finalizer is written with a patch of the object, never through a finalizers
  subresource), get (the operator re-reads an object by name).
- <plural>/status: patch (status writes), get.
- events (core v1): create only; Kopf POSTs events, never patches or updates them.
- secrets: get only (credentialsRef, env and connection secretKeyRef, read by name; no list/watch),
  restricted to `rbac.secretNames` when set.
*/}}
{{- define "blaxel-operator.rules.agents" -}}
{{- $plurals := include "blaxel-operator.plurals" . | fromJsonArray -}}
- apiGroups: ["blaxel.ai"]
  resources: {{ toJson $plurals }}
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["blaxel.ai"]
  resources: [{{ range $i, $plural := $plurals }}{{ if $i }}, {{ end }}{{ printf "%s/status" $plural | quote }}{{ end }}]
  verbs: ["get", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  {{- with .Values.rbac.secretNames }}
  resourceNames: {{ toJson . }}
  {{- end }}
  verbs: ["get"]
{{- end }}

{{/*
Kopf peering: a watch stream over the peering kind (list, watch) and keep-alive merge patches
of our own peering object(s) (patch, get), restricted by name.
Argument: dict "resource" (clusterkopfpeerings|kopfpeerings) "names" (peering names, one per shard).
*/}}
{{- define "blaxel-operator.rules.peering" -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  resourceNames: {{ toJson .names }}
  verbs: ["get", "patch"]
{{- end }}

{{/*
The Lease naming the shard layout that acts (--shard-lease): held by every process, so that when
`shards` changes, the new layout waits for the old one to be gone.
*/}}
{{- define "blaxel-operator.shardLeaseName" -}}
{{- printf "%s-shards" (include "blaxel-operator.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
