{{/* Names, labels and shared fragments. Keep templating simple: no logic beyond this. */}}

{{- define "cephalon.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cephalon.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "cephalon.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "cephalon.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; add a selector helper (name + instance) or the instance. */}}
{{- define "cephalon.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: cephalon
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The operator's pod labels and selector. */}}
{{- define "cephalon.operator.selector" -}}
app.kubernetes.io/name: cephalon-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The bundled Redis's pod labels and selector: the operator's default
     CEPHALON_REDIS__SERVICE_SELECTOR plus the release. */}}
{{- define "cephalon.redis.selector" -}}
app.kubernetes.io/name: cephalon-redis
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cephalon.operator.fullname" -}}
{{- printf "%s-operator" (include "cephalon.fullname" .) -}}
{{- end -}}

{{- define "cephalon.redis.fullname" -}}
{{- printf "%s-redis" (include "cephalon.fullname" .) -}}
{{- end -}}

{{- define "cephalon.redis.secretName" -}}
{{- default (printf "%s-redis-operator" (include "cephalon.fullname" .)) .Values.redis.auth.existingSecret -}}
{{- end -}}

{{- define "cephalon.redis.url" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s.%s.svc:%d/0" (include "cephalon.redis.fullname" .) .Release.Namespace (int .Values.redis.port) -}}
{{- else -}}
{{- required "redis.external.url is required when redis.enabled is false" .Values.redis.external.url -}}
{{- end -}}
{{- end -}}

{{- define "cephalon.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Pod-level securityContext of the Pod Security "restricted" profile. */}}
{{- define "cephalon.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level securityContext of the "restricted" profile, read-only root. */}}
{{- define "cephalon.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cephalon.tenantName" -}}
{{- printf "%s-%s" .provider .tenant -}}
{{- end -}}
