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

{{/* Arguments of `blaxel-operator`: exactly the flags of `blaxel-operator run`. */}}
{{- define "blaxel-operator.args" -}}
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
{{- if .Values.peering.enabled }}
- --peering={{ .Values.peering.name }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
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
of our own peering object (patch, get), restricted by name.
Argument: dict "resource" (clusterkopfpeerings|kopfpeerings) "name" (peering name).
*/}}
{{- define "blaxel-operator.rules.peering" -}}
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  verbs: ["list", "watch"]
- apiGroups: ["kopf.dev"]
  resources: [{{ .resource | quote }}]
  resourceNames: [{{ .name | quote }}]
  verbs: ["get", "patch"]
{{- end }}
