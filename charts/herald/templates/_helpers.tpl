{{/*
Names, labels, the image reference and the rendered herald config shared by every template.
*/}}

{{/* Chart name, overridable. */}}
{{- define "herald.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name prefix of every object; kept short enough for "-exporter-headless". */}}
{{- define "herald.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Name of cluster-scoped objects: unique per release namespace. */}}
{{- define "herald.clusterName" -}}
{{- printf "%s-%s" (include "herald.fullname" .) .Release.Namespace -}}
{{- end -}}

{{- define "herald.exporterName" -}}
{{- printf "%s-exporter" (include "herald.fullname" .) -}}
{{- end -}}

{{- define "herald.rulerName" -}}
{{- printf "%s-ruler" (include "herald.fullname" .) -}}
{{- end -}}

{{/* Name of the Deployment and Service in combined mode. */}}
{{- define "herald.combinedName" -}}
{{- include "herald.fullname" . -}}
{{- end -}}

{{/* Name of the Service that carries the exporter's gRPC API in the current mode. */}}
{{- define "herald.grpcServiceName" -}}
{{- if eq .Values.mode "combined" -}}
{{- include "herald.combinedName" . -}}
{{- else -}}
{{- include "herald.exporterName" . -}}
{{- end -}}
{{- end -}}

{{- define "herald.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "herald.labels" -}}
helm.sh/chart: {{ include "herald.chart" . }}
{{ include "herald.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: herald
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "herald.selectorLabels" -}}
app.kubernetes.io/name: {{ include "herald.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of a component's objects. Call with (dict "ctx" $ "component" "exporter"). */}}
{{- define "herald.componentLabels" -}}
{{ include "herald.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Selector labels of a component. Call with (dict "ctx" $ "component" "exporter"). */}}
{{- define "herald.componentSelectorLabels" -}}
{{ include "herald.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Label that marks the Services the ServiceMonitor scrapes. */}}
{{- define "herald.metricsServiceLabel" -}}
herald.dev/metrics: "true"
{{- end -}}

{{- define "herald.image" -}}
{{- $repo := printf "%s/%s" .Values.image.registry .Values.image.repository | trimPrefix "/" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* ServiceAccount of the exporter / combined pod (the one RBAC binds to). */}}
{{- define "herald.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (ternary (include "herald.combinedName" .) (include "herald.exporterName" .) (eq .Values.mode "combined")) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "herald.rulerServiceAccountName" -}}
{{- if .Values.ruler.serviceAccount.create -}}
{{- default (include "herald.rulerName" .) .Values.ruler.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.ruler.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret holding the gRPC bearer token: the user's, or the one the chart generates. */}}
{{- define "herald.authSecretName" -}}
{{- default (printf "%s-grpc-token" (include "herald.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
The token of the chart-generated Secret: the one already in the cluster (so upgrades keep
it), else a new random one. Computed once per render and remembered, so the Secret and the
rulers' rollout checksum agree.
*/}}
{{- define "herald.generatedAuthToken" -}}
{{- if not (hasKey .Values.auth "__generatedToken") -}}
{{- $token := randAlphaNum 48 -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "herald.authSecretName" .) -}}
{{- if $existing -}}
{{- with index ($existing.data | default dict) .Values.auth.secretKey -}}
{{- $token = b64dec . -}}
{{- end -}}
{{- end -}}
{{- $_ := set .Values.auth "__generatedToken" $token -}}
{{- end -}}
{{- index .Values.auth "__generatedToken" -}}
{{- end -}}

{{/* Default gRPC URL of this release's exporter. */}}
{{- define "herald.exporterURL" -}}
{{- printf "%s://%s:%d" (ternary "https" "http" .Values.tls.enabled) (include "herald.exporterName" .) (int .Values.exporter.service.grpcPort) -}}
{{- end -}}

{{/*
The gRPC URLs rulers subscribe to by default (YAML list). One exporter: its Service.
With a standby, every exporter pod by its stable name under the headless Service: the
Service routes to the leader only, but a standby still serves each ruler lane what its
log holds that the lane had not acknowledged when leadership moved (its target was
down, say), which the new leader cannot always get back from the API server. TLS
verifies the Service name (`ruler.tls.serverName`), so the certificate needs no pod
names.
*/}}
{{- define "herald.exporterURLs" -}}
{{- $replicas := int .Values.exporter.replicas -}}
{{- if le $replicas 1 -}}
{{- list (include "herald.exporterURL" .) | toYaml -}}
{{- else -}}
{{- $name := include "herald.exporterName" . -}}
{{- $urls := list -}}
{{- range $i := until $replicas -}}
{{- $urls = append $urls (printf "%s://%s-%d.%s-headless.%s.svc:%d" (ternary "https" "http" $.Values.tls.enabled) $name $i $name $.Release.Namespace (int $.Values.exporter.service.grpcPort)) -}}
{{- end -}}
{{- $urls | toYaml -}}
{{- end -}}
{{- end -}}

{{/*
The herald config file: `.Values.config` as the user wrote it, plus the sections the
chart's values require. A key the user set is never overwritten.
*/}}
{{- define "herald.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $split := eq .Values.mode "split" -}}
{{- $certDir := "/etc/herald/tls" -}}
{{- /* Leader election: automatic with a standby exporter. */ -}}
{{- if and $split (gt (int .Values.exporter.replicas) 1) -}}
{{- $le := index $cfg "leaderElection" | default dict -}}
{{- if and (hasKey $le "enabled") (not $le.enabled) -}}
{{- fail "exporter.replicas > 1 needs leader election: remove config.leaderElection.enabled: false (both replicas would export every event)" -}}
{{- end -}}
{{- $_ := set $le "enabled" true -}}
{{- $_ := set $cfg "leaderElection" $le -}}
{{- end -}}
{{- $le := index $cfg "leaderElection" | default dict -}}
{{- if and $le.enabled (not $le.leaderElectionID) -}}
{{- $_ := set $le "leaderElectionID" (include "herald.exporterName" .) -}}
{{- end -}}
{{- /* exporter: retention, TLS, bearer token. */ -}}
{{- $exp := index $cfg "exporter" | default dict -}}
{{- if or .Values.exporter.retention.maxAge .Values.exporter.retention.maxBytes -}}
{{- $ret := index $exp "retention" | default dict -}}
{{- if and .Values.exporter.retention.maxAge (not (hasKey $ret "maxAge")) -}}
{{- $_ := set $ret "maxAge" .Values.exporter.retention.maxAge -}}
{{- end -}}
{{- if and .Values.exporter.retention.maxBytes (not (hasKey $ret "maxBytes")) -}}
{{- $_ := set $ret "maxBytes" .Values.exporter.retention.maxBytes -}}
{{- end -}}
{{- $_ := set $exp "retention" $ret -}}
{{- end -}}
{{- if or .Values.tls.enabled .Values.auth.enabled -}}
{{- $grpc := index $exp "grpc" | default dict -}}
{{- if .Values.tls.enabled -}}
{{- $tls := index $grpc "tls" | default dict -}}
{{- if not (hasKey $tls "certFile") -}}{{- $_ := set $tls "certFile" (printf "%s/tls.crt" $certDir) -}}{{- end -}}
{{- if not (hasKey $tls "keyFile") -}}{{- $_ := set $tls "keyFile" (printf "%s/tls.key" $certDir) -}}{{- end -}}
{{- if and .Values.tls.clientAuth (not (hasKey $tls "clientCaFile")) -}}{{- $_ := set $tls "clientCaFile" (printf "%s/ca.crt" $certDir) -}}{{- end -}}
{{- $_ := set $grpc "tls" $tls -}}
{{- end -}}
{{- if and .Values.auth.enabled (not (hasKey $grpc "authTokenFile")) (not (hasKey $grpc "authTokens")) -}}
{{- $_ := set $grpc "authTokenFile" (printf "/etc/herald/auth/%s" .Values.auth.secretKey) -}}
{{- end -}}
{{- $_ := set $exp "grpc" $grpc -}}
{{- end -}}
{{- if $exp -}}
{{- $_ := set $cfg "exporter" $exp -}}
{{- end -}}
{{- /* ruler: where the exporter is and how to reach it (split mode only). */ -}}
{{- if $split -}}
{{- $rul := index $cfg "ruler" | default dict -}}
{{- if not (hasKey $rul "exporters") -}}
{{- $_ := set $rul "exporters" (.Values.ruler.exporters | default (include "herald.exporterURLs" . | fromYamlArray)) -}}
{{- end -}}
{{- if .Values.tls.enabled -}}
{{- $rtls := index $rul "tls" | default dict -}}
{{- if not (hasKey $rtls "caFile") -}}{{- $_ := set $rtls "caFile" (printf "%s/ca.crt" $certDir) -}}{{- end -}}
{{- if not (hasKey $rtls "serverName") -}}{{- $_ := set $rtls "serverName" (default (include "herald.exporterName" .) .Values.tls.serverName) -}}{{- end -}}
{{- if .Values.tls.clientAuth -}}
{{- if not (hasKey $rtls "certFile") -}}{{- $_ := set $rtls "certFile" (printf "%s/tls.crt" $certDir) -}}{{- end -}}
{{- if not (hasKey $rtls "keyFile") -}}{{- $_ := set $rtls "keyFile" (printf "%s/tls.key" $certDir) -}}{{- end -}}
{{- end -}}
{{- $_ := set $rul "tls" $rtls -}}
{{- end -}}
{{- if and .Values.auth.enabled (not (hasKey $rul "authToken")) -}}
{{- $_ := set $rul "authToken" "${HERALD_AUTH_TOKEN}" -}}
{{- end -}}
{{- $_ := set $cfg "ruler" $rul -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* The rendered config parsed back, for templates that need derived facts. */}}
{{- define "herald.configDict" -}}
{{- include "herald.config" . | fromYaml | toJson -}}
{{- end -}}

{{/* "true" when the rendered config turns leader election on. */}}
{{- define "herald.leaderElection" -}}
{{- $cfg := include "herald.configDict" . | fromJson -}}
{{- if dig "leaderElection" "enabled" false $cfg -}}true{{- end -}}
{{- end -}}

{{/* "true" when the rendered config watches kube-events `Rule` objects (ruler.ruleObjects). */}}
{{- define "herald.ruleObjects" -}}
{{- $cfg := include "herald.configDict" . | fromJson -}}
{{- if dig "ruler" "ruleObjects" "enabled" false $cfg -}}true{{- end -}}
{{- end -}}

{{/* "true" when a receiver's hook reads Pods (hook.enrichPod): the rulers then get
     a token and `get` on pods. */}}
{{- define "herald.hookPods" -}}
{{- $cfg := include "herald.configDict" . | fromJson -}}
{{- $found := false -}}
{{- range (dig "receivers" list $cfg) -}}
{{- if and (kindIs "map" .) (kindIs "map" (get . "hook")) (dig "hook" "enrichPod" false .) -}}
{{- $found = true -}}
{{- end -}}
{{- end -}}
{{- if $found -}}true{{- end -}}
{{- end -}}

{{/* Checks of value combinations that the schema cannot express. */}}
{{- define "herald.validate" -}}
{{- if eq .Values.mode "combined" -}}
{{- $cfg := include "herald.configDict" . | fromJson -}}
{{- range (dig "receivers" list $cfg) -}}
{{- if and (kindIs "map" .) (hasKey . "hook") -}}
{{- fail (printf "receiver %v has a hook: hooks run in herald-ruler (mode: split); herald run (mode: combined) is built without the hooks feature" (get . "name")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if and .Values.tls.enabled (not .Values.tls.exporterSecretName) -}}
{{- fail "tls.enabled needs tls.exporterSecretName (a Secret with tls.crt, tls.key and ca.crt)" -}}
{{- end -}}
{{- if and .Values.tls.enabled .Values.tls.clientAuth (eq .Values.mode "split") (not .Values.tls.rulerSecretName) -}}
{{- fail "tls.clientAuth needs tls.rulerSecretName (a Secret with the rulers' tls.crt, tls.key and ca.crt)" -}}
{{- end -}}
{{- $as := .Values.ruler.autoscaling -}}
{{- if and (eq .Values.mode "split") $as.enabled -}}
{{- if lt (int $as.maxReplicas) (int $as.minReplicas) -}}
{{- fail "ruler.autoscaling.maxReplicas must not be below ruler.autoscaling.minReplicas" -}}
{{- end -}}
{{- if and (not $as.targetCPUUtilizationPercentage) (not $as.targetMemoryUtilizationPercentage) (not $as.customMetric.enabled) -}}
{{- fail "ruler.autoscaling.enabled needs at least one target: CPU, memory or customMetric" -}}
{{- end -}}
{{- if and $as.targetCPUUtilizationPercentage (not (dig "requests" "cpu" "" (.Values.ruler.resources | default dict))) -}}
{{- fail "the CPU autoscaling target needs ruler.resources.requests.cpu" -}}
{{- end -}}
{{- if and $as.targetMemoryUtilizationPercentage (not (dig "requests" "memory" "" (.Values.ruler.resources | default dict))) -}}
{{- fail "the memory autoscaling target needs ruler.resources.requests.memory" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pod anti-affinity preset. Call with (dict "ctx" $ "component" "ruler" "preset" "soft"). */}}
{{- define "herald.antiAffinity" -}}
{{- if eq .preset "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "herald.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 12 }}
{{- else if eq .preset "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- include "herald.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 10 }}
{{- end -}}
{{- end -}}

{{/* Liveness and readiness probes on the real health endpoints. Call with the component's values. */}}
{{- define "herald.probes" -}}
{{- with .livenessProbe }}
{{- if .enabled }}
livenessProbe:
  httpGet:
    path: /-/healthy
    port: http
  initialDelaySeconds: {{ .initialDelaySeconds }}
  periodSeconds: {{ .periodSeconds }}
  timeoutSeconds: {{ .timeoutSeconds }}
  failureThreshold: {{ .failureThreshold }}
{{- end }}
{{- end }}
{{- with .readinessProbe }}
{{- if .enabled }}
readinessProbe:
  httpGet:
    path: /-/ready
    port: http
  initialDelaySeconds: {{ .initialDelaySeconds }}
  periodSeconds: {{ .periodSeconds }}
  timeoutSeconds: {{ .timeoutSeconds }}
  failureThreshold: {{ .failureThreshold }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Environment shared by herald containers. */}}
{{- define "herald.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- with .Values.logFilter }}
- name: HERALD_LOG
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Pod annotations: config checksum (rolls pods on config change) + user annotations. */}}
{{- define "herald.podAnnotations" -}}
checksum/config: {{ include "herald.config" .ctx | sha256sum }}
{{- with .ctx.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- with .extra }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* storageClassName of a claim: "" = cluster default (omitted), "-" = none. */}}
{{- define "herald.storageClass" -}}
{{- if .storageClass -}}
{{- if eq .storageClass "-" -}}
storageClassName: ""
{{- else -}}
storageClassName: {{ .storageClass | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Egress rule for DNS lookups. */}}
{{- define "herald.dnsEgress" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}
