package exporter

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildInfo(t *testing.T) {
	want := `# HELP netctl_build_info A metric with a constant '1' value labeled by version, revision and goversion from which netctl was built.
# TYPE netctl_build_info gauge
netctl_build_info{goversion="` + runtime.Version() + `",revision="abc123",version="v1.2.3"} 1
`
	if err := testutil.CollectAndCompare(NewBuildInfo("v1.2.3", "abc123"), strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(NewBuildInfo("v1", "r")); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
