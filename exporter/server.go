package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListenAddress is where `netctl serve` listens unless told otherwise: a port
// above 10000 that the well-known exporters (9100–9999 by the Prometheus wiki's
// allocation list) do not use.
const DefaultListenAddress = ":10961"

// HandlerOptions are what the HTTP endpoints serve.
type HandlerOptions struct {
	Registry *prometheus.Registry
	// Flows returns what /flows serves as JSON: the asymmetric conversations with their
	// reasons, or every flow when all is true.
	Flows func(ctx context.Context, all bool) (any, error)
	// Healthy reports whether the daemon works (attached, watching); nil is healthy.
	Healthy func() error
	Version string
}

// NewHandler returns the daemon's endpoints: / (landing page), /metrics, /flows and
// /healthz.
func NewHandler(o HandlerOptions) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(o.Registry, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             30 * time.Second,
		EnableOpenMetrics:   true,
	}))
	mux.HandleFunc("/flows", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
		defer cancel()
		v, err := o.Flows(ctx, r.URL.Query().Get("all") != "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	})
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
			{Address: "flows", Text: "Asymmetric flows", Description: "conversations that arrive on one interface and answer on another, with the route that causes it (JSON; ?all=1 for every flow)"},
			{Address: "healthz", Text: "Health", Description: "ok when the counters are attached and watched"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("landing page: %w", err)
	}
	mux.Handle("/", landing)
	return mux, nil
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
