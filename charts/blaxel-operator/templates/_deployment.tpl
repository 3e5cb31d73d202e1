{{/*
One operator Deployment. Argument: dict "root" (the chart's context), "shard" (its index), "shards" (the
count). With one shard: the Deployment RELEASE-blaxel-operator, no shard flags, as it always was.
*/}}
{{- define "blaxel-operator.deployment" -}}
{{- $root := .root }}
{{- $apiKeySecret := include "blaxel-operator.apiKeySecretName" $root }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "blaxel-operator.shardName" . }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "blaxel-operator.labels" $root | nindent 4 }}
    {{- with include "blaxel-operator.shardLabel" . }}{{ . | nindent 4 }}{{- end }}
spec:
  replicas: {{ $root.Values.replicaCount }}
  revisionHistoryLimit: 3
  # Never two generations side by side: a rolling update would run old and new operators
  # against the same agents (and freezes Kopf peering while both are alive).
  strategy:
    type: Recreate
  selector:
    matchLabels:
      {{- include "blaxel-operator.selectorLabels" $root | nindent 6 }}
      {{- with include "blaxel-operator.shardLabel" . }}{{ . | nindent 6 }}{{- end }}
  template:
    metadata:
      labels:
        {{- include "blaxel-operator.labels" $root | nindent 8 }}
        {{- with include "blaxel-operator.shardLabel" . }}{{ . | nindent 8 }}{{- end }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $annotations := deepCopy $root.Values.podAnnotations }}
      {{- if and $root.Values.blaxel.apiKey (not $root.Values.blaxel.existingSecret) }}
      {{- /* Roll the pod when the chart-made API key changes. */}}
      {{- $_ := set $annotations "checksum/credentials" ($root.Values.blaxel.apiKey | sha256sum) }}
      {{- end }}
      {{- with $annotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "blaxel-operator.serviceAccountName" $root }}
      automountServiceAccountToken: true
      enableServiceLinks: false
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      containers:
        - name: operator
          image: {{ include "blaxel-operator.image" $root | quote }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          command: ["blaxel-operator"]
          args:
            {{- include "blaxel-operator.args" . | nindent 12 }}
          env:
            # Kopf's peer identity: the pod name instead of user@host.
            - name: POD_ID
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: BL_API_URL
              value: {{ $root.Values.blaxel.apiUrl | quote }}
            {{- if $apiKeySecret }}
            - name: BL_API_KEY
              valueFrom:
                secretKeyRef:
                  name: {{ $apiKeySecret }}
                  key: apiKey
            {{- end }}
            {{- if $root.Values.blaxel.workspace }}
            - name: BL_WORKSPACE
              value: {{ $root.Values.blaxel.workspace | quote }}
            {{- else if $root.Values.blaxel.existingSecret }}
            - name: BL_WORKSPACE
              valueFrom:
                secretKeyRef:
                  name: {{ $root.Values.blaxel.existingSecret }}
                  key: workspace
                  optional: true
            {{- end }}
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: metrics
              containerPort: {{ $root.Values.operator.metricsPort }}
              protocol: TCP
            - name: health
              containerPort: {{ $root.Values.operator.healthPort }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /healthz
              port: {{ $root.Values.operator.healthPort }}
            {{- toYaml $root.Values.livenessProbe | nindent 12 }}
          readinessProbe:
            httpGet:
              path: /readyz
              port: {{ $root.Values.operator.metricsPort }}
            {{- toYaml $root.Values.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml $root.Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml $root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $root.Values.tmpSizeLimit }}
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
