{{/*
Pod template of the exporter (StatefulSet) and of the combined Deployment: the same
volumes, security context, probes and environment; the combined pod only differs in its
command and resources. Call with (dict "ctx" $ "component" "exporter"|"combined").
*/}}
{{- define "herald.exporterPodTemplate" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- $combined := eq .component "combined" -}}
metadata:
  labels:
    {{- include "herald.componentLabels" (dict "ctx" $ "component" .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $v.exporter.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "herald.podAnnotations" (dict "ctx" $ "extra" $v.exporter.podAnnotations) | nindent 4 }}
spec:
  serviceAccountName: {{ include "herald.serviceAccountName" $ }}
  automountServiceAccountToken: true
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ $v.exporter.terminationGracePeriodSeconds }}
  {{- with $v.exporter.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if $v.exporter.affinity }}
  affinity:
    {{- toYaml $v.exporter.affinity | nindent 4 }}
  {{- else if and (not $combined) (gt (int $v.exporter.replicas) 1) (ne $v.exporter.podAntiAffinity "none") }}
  affinity:
    {{- include "herald.antiAffinity" (dict "ctx" $ "component" .component "preset" $v.exporter.podAntiAffinity) | nindent 4 }}
  {{- end }}
  {{- with $v.exporter.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.exporter.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.exporter.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ ternary "herald" "exporter" $combined }}
      image: {{ include "herald.image" $ | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      {{- if $combined }}
      command: [herald, run]
      args:
        - --config
        - /etc/herald/config.yaml
        - --data-dir
        - /var/lib/herald
        - --metrics-address
        - 0.0.0.0:2112
      {{- else }}
      command: [herald-exporter]
      args:
        - --config
        - /etc/herald/config.yaml
        - --data-dir
        - /var/lib/herald
        - --grpc-address
        - 0.0.0.0:50051
        - --metrics-address
        - 0.0.0.0:2112
      {{- end }}
        {{- with $v.exporter.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: grpc
          containerPort: 50051
          protocol: TCP
        - name: http
          containerPort: 2112
          protocol: TCP
      env:
        {{- include "herald.env" $ | nindent 8 }}
        {{- with $v.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.exporter.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- $envFrom := concat ($v.extraEnvFrom | default list) ($v.exporter.extraEnvFrom | default list) }}
      {{- with $envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- include "herald.probes" $v.exporter | trim | nindent 6 }}
      resources:
        {{- toYaml (ternary $v.combined.resources $v.exporter.resources $combined) | nindent 8 }}
      securityContext:
        {{- toYaml $v.containerSecurityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/herald/config.yaml
          subPath: config.yaml
          readOnly: true
        - name: data
          mountPath: /var/lib/herald
        - name: tmp
          mountPath: /tmp
        {{- if $v.tls.enabled }}
        - name: tls
          mountPath: /etc/herald/tls
          readOnly: true
        {{- end }}
        {{- if $v.auth.enabled }}
        - name: auth
          mountPath: /etc/herald/auth
          readOnly: true
        {{- end }}
        {{- with $v.exporter.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "herald.fullname" $ }}-config
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if $combined }}
    - name: data
      {{- if $v.exporter.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ include "herald.combinedName" $ }}-data
      {{- else }}
      emptyDir:
        sizeLimit: {{ $v.exporter.emptyDirSizeLimit }}
      {{- end }}
    {{- else if not $v.exporter.persistence.enabled }}
    - name: data
      emptyDir:
        sizeLimit: {{ $v.exporter.emptyDirSizeLimit }}
    {{- end }}
    {{- if $v.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ $v.tls.exporterSecretName }}
    {{- end }}
    {{- if $v.auth.enabled }}
    - name: auth
      secret:
        secretName: {{ include "herald.authSecretName" $ }}
        items:
          - key: {{ $v.auth.secretKey }}
            path: {{ $v.auth.secretKey }}
    {{- end }}
    {{- with $v.exporter.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
