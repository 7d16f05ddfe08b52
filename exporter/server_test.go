package exporter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/netctl/netctl/internal/analysis"
)

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewBuildInfo("v-test", "r-test"))
	h, err := NewHandler(HandlerOptions{
		Gatherer: reg, Version: "v-test",
		Flows: func(_ context.Context, q FlowsQuery) (any, error) {
			if q.All {
				return []string{fmt.Sprintf("all, limit %d", q.Limit)}, nil
			}
			return []analysis.Conversation{{Container: "c1", InInterface: "eth0", OutInterface: "eth1", Reason: fmt.Sprintf("limit %d", q.Limit)}}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEndpoints(t *testing.T) {
	srv := NewHTTPServer(testHandler(t))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	defer func() { _ = srv.Close() }()
	base := "http://" + l.Addr().String()
	for path, want := range map[string]string{
		"/":        "netctl",
		"/metrics": `netctl_build_info{goversion=`,
		"/flows":   `"in_interface": "eth0"`,
		"/healthz": "ok",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s, body lacks %q:\n%.300s", path, resp.Status, want, b)
		}
	}
	if srv.ReadHeaderTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Error("server timeouts not set")
	}

	// Only GET and HEAD; /flows parses its query strictly.
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"POST", "/metrics", 405, "method not allowed"},
		{"PUT", "/flows", 405, "method not allowed"},
		{"DELETE", "/", 405, "method not allowed"},
		{"HEAD", "/metrics", 200, ""},
		{"GET", "/flows", 200, `"reason": "limit 100"`},
		{"GET", "/flows?limit=5", 200, `"reason": "limit 5"`},
		{"GET", "/flows?all=1&limit=1000", 200, `"all, limit 1000"`},
		{"GET", "/flows?all=false", 200, `"reason": "limit 100"`},
		{"GET", "/flows?limit=0", 400, "limit="},
		{"GET", "/flows?limit=1001", 400, "limit="},
		{"GET", "/flows?limit=ten", 400, "limit="},
		{"GET", "/flows?all=maybe", 400, "all="},
		{"GET", "/flows?all", 400, "all="},
		{"GET", "/flows?format=csv", 400, "unknown parameter"},
		{"GET", "/flows?limit=1&limit=2", 400, "given 2 times"},
		{"GET", "/flows?limit=%zz", 400, "bad query"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.body) {
			t.Errorf("%s %s: %s %q, want %d with %q", tc.method, tc.path, resp.Status, b, tc.code, tc.body)
		}
		if tc.code == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

// Basic auth and TLS through the exporter-toolkit web config: 401 without credentials,
// 200 with them, over TLS with a generated certificate.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	must(t, os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600))
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	must(t, err)
	cfg := "tls_server_config:\n  cert_file: " + filepath.Join(dir, "cert.pem") + "\n  key_file: " + filepath.Join(dir, "key.pem") +
		"\nbasic_auth_users:\n  prom: " + string(hash) + "\n"
	cfgPath := filepath.Join(dir, "web.yml")
	must(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))
	must(t, web.Validate(cfgPath))

	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	srv := NewHTTPServer(testHandler(t))
	systemd := false
	go func() {
		_ = web.Serve(l, srv, &web.FlagConfig{WebConfigFile: &cfgPath, WebSystemdSocket: &systemd}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { _ = srv.Close() }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	u := "https://" + l.Addr().String() + "/metrics"
	status := func(user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status("", ""); s != http.StatusUnauthorized {
		t.Errorf("without credentials: %d, want 401", s)
	}
	if s := status("prom", "wrong"); s != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", s)
	}
	if s := status("prom", "s3cret"); s != http.StatusOK {
		t.Errorf("with credentials: %d, want 200", s)
	}
	// Plain HTTP to the TLS port fails.
	if resp, err := http.Get("http://" + l.Addr().String() + "/metrics"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP served /metrics on the TLS listener")
		}
		resp.Body.Close()
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "netctl-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
