package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListenAddress is where `netctl serve` listens unless told otherwise: every
// address of the host, without TLS or authentication (as node_exporter), on a port above
// 10000 that the well-known exporters (9100–9999 by the Prometheus wiki's allocation
// list) do not use. docs/deploy.md says how to narrow it and add TLS and basic auth.
const DefaultListenAddress = ":10961"

// Limits of the HTTP endpoints.
const (
	// DefaultFlowsLimit is how many flows or conversations /flows returns unless ?limit=
	// says otherwise (at most MaxFlowsLimit).
	DefaultFlowsLimit = 100
	// InFlight is how many /metrics and /flows requests are served at once, FlowsInFlight
	// how many of them may be /flows; the others wait (a /metrics first). /flows requests
	// are also paced, FlowsPerSecond at most (in bursts as large); one that would wait
	// longer than FlowsQueueWait gets 503 after that wait.
	InFlight       = 4
	FlowsInFlight  = 2
	FlowsPerSecond = 20
	FlowsQueueWait = 5 * time.Second
)

// FlowsQuery is what a /flows request asks for.
type FlowsQuery struct {
	All   bool // every flow (the busiest first) instead of the asymmetric conversations
	Limit int  // at most this many (1 … MaxFlowsLimit)
}

// ParseFlowsQuery reads the query of /flows strictly: only all= (a boolean: 1, true, 0,
// false…) and limit= (1 … MaxFlowsLimit), each at most once.
func ParseFlowsQuery(raw string) (FlowsQuery, error) {
	q := FlowsQuery{Limit: DefaultFlowsLimit}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("bad query: %w", err)
	}
	for k, v := range vals {
		if len(v) != 1 {
			return q, fmt.Errorf("%s given %d times", k, len(v))
		}
		switch k {
		case "all":
			if q.All, err = strconv.ParseBool(v[0]); err != nil {
				return q, fmt.Errorf("all=%q: want true or false", v[0])
			}
		case "limit":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > MaxFlowsLimit {
				return q, fmt.Errorf("limit=%q: want a number from 1 to %d", v[0], MaxFlowsLimit)
			}
			q.Limit = n
		default:
			return q, fmt.Errorf("unknown parameter %q (all, limit)", k)
		}
	}
	return q, nil
}

// HandlerOptions are what the HTTP endpoints serve.
type HandlerOptions struct {
	// Gatherer is what /metrics serves (NewGatherer).
	Gatherer prometheus.Gatherer
	// Flows returns what /flows serves as JSON: the asymmetric conversations with their
	// reasons, or the busiest flows when q.All, at most q.Limit.
	Flows func(ctx context.Context, q FlowsQuery) (any, error)
	// Healthy reports whether the daemon works (attached, watching); nil is healthy.
	Healthy func() error
	Version string
}

// NewHandler returns the daemon's endpoints: / (landing page), /metrics, /flows and
// /healthz, GET and HEAD only (405 otherwise). /metrics and /flows share a limit of
// requests in flight that serves /metrics first (limiter).
func NewHandler(o HandlerOptions) (http.Handler, error) {
	lim := newLimiter(InFlight, FlowsInFlight, FlowsPerSecond, FlowsPerSecond)
	mux := http.NewServeMux()
	mux.Handle("/metrics", lim.wrap(promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		Timeout:           30 * time.Second,
		EnableOpenMetrics: true,
	}), true, 30*time.Second))
	mux.Handle("/flows", lim.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := ParseFlowsQuery(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		v, err := o.Flows(ctx, q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}), false, FlowsQueueWait))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if o.Healthy != nil {
			if err := o.Healthy(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "netctl",
		Description: "tc eBPF traffic counters of a Docker host's bridge ports and containers, and asymmetric-routing detection",
		Version:     o.Version,
		Links: []web.LandingLinks{
			{Address: "metrics", Text: "Metrics", Description: "per-interface and per-flow counters, asymmetric conversations"},
			{Address: "flows", Text: "Asymmetric flows", Description: fmt.Sprintf("conversations that arrive on one interface and answer on another, with the route that causes it (JSON; ?all=1: the busiest flows instead; ?limit=N, default %d, at most %d)", DefaultFlowsLimit, MaxFlowsLimit)},
			{Address: "healthz", Text: "Health", Description: "ok when the counters are attached and watched"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	mux.Handle("/", landing)
	return getOnly(mux), nil
}

// getOnly answers 405 to every method but GET and HEAD.
func getOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// NewHTTPServer wraps a handler with timeouts, so a slow or stuck client cannot hold a
// connection forever.
func NewHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 16,
	}
}
