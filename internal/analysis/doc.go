// Package analysis reads routing out of flows: it groups a container's flows into
// conversations (one Key each), decides which side owns the service port, finds the
// conversations that arrive on one interface and leave on another (DetectAsymmetric),
// and says why, from the route the kernel takes inside the container (ExplainRoute,
// RouteReason, FillReasons).
//
// Everything but the route lookup is pure and works on probe snapshots; the exporter
// turns its results into metrics and `netctl flows --asymmetric` prints them. The route
// lookup opens netlink in the container's namespace, so only the daemon and the CLI call
// it, never the Prometheus collector.
package analysis
