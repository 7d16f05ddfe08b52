// Package validate checks netctl's Kubernetes manifests (deploy/kubernetes/*.yaml): each
// document decodes strictly into its Kubernetes API type, and the DaemonSet, Service,
// ServiceMonitor and scrape configuration have the properties netctl relies on. It is a
// module of its own so that the Kubernetes API types stay out of netctl's module:
//
//	cd deploy/kubernetes/validate && go test ./...
package validate
