// Package check holds the tests of the Grafana dashboard deploy/grafana/netctl.json: every
// query parses as PromQL and asks only for metrics the exporter describes, with the
// dashboard's variables and data source. It is a module of its own so that the Prometheus
// server module it parses with stays out of netctl's own dependencies. Run it with
//
//	cd deploy/grafana/check && go test ./...
package check
