// Package analysis reads routing out of flows: it groups a container's flows into
// conversations (Grouper), decides which side owns the service port and whether a
// conversation arrives on one interface and leaves on another (Judge, DetectAsymmetric),
// finds the replies a container sends from another address than the one asked
// (Grouper.ByRemote, JudgeWrongSource, DetectWrongSource), and says why, from the route
// the kernel takes inside the container (ExplainRoute, RouteReason, FillReasons;
// ExplainWrongSource, WrongSourceReason, FillWrongSourceReasons).
//
// Everything but the route lookup is pure. It works on fixed-size recs (Rec) in buffers
// the caller reuses, linear in the flows, so the exporter runs it over the whole kernel
// table at every read; DetectAsymmetric and ServicePorts take probe snapshot flows for
// `netctl flows --asymmetric` and tests. The route
// lookup opens netlink in the container's namespace, so only the daemon and the CLI call
// it, never the Prometheus collector.
package analysis
