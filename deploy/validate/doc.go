// Package validate checks deploy/ offline, in `make verify`: the Compose
// file loads with the Compose specification's own parser and runs every
// service; every Kubernetes manifest strict-decodes into the Kubernetes API
// types and both Kustomize overlays build; the manifests keep the promises
// of deploy/README.md (non-root, limits, probes, disruption budgets,
// autoscalers, network policies); and the Prometheus alert rules parse and
// use only metrics the code registers. It has tests and no code.
package validate
