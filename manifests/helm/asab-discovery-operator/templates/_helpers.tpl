{{- define "asab-discovery-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "asab-discovery-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "asab-discovery-operator.labels" -}}
{{ include "asab-discovery-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: asab-discovery
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "asab-discovery-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "asab-discovery-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "asab-discovery-operator.subject" -}}
- kind: ServiceAccount
  name: {{ include "asab-discovery-operator.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end -}}
