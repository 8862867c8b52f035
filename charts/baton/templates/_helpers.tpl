{{/* Labels of the controller's Deployment and pods (as config/manager). */}}
{{- define "baton.controllerLabels" -}}
app.kubernetes.io/name: baton
app.kubernetes.io/component: controller
{{- end }}

{{/* image REPOSITORY TAG: the tag defaults to the chart's appVersion. */}}
{{- define "baton.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end }}
