package exporter

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The collector builds its metrics as client_model families (what the text and
// OpenMetrics encoders take) rather than as prometheus.Metric values the registry checks
// one by one: a pass builds the thousands of flow samples once, with their label pairs
// made once per series, and every scrape until the next pass serves them as they are.
// Collect adapts the same families for any registry (and the tests).

// families builds metric families in the order metrics are first added.
type families struct {
	byDef map[*metricDef]*dto.MetricFamily
	list  []*dto.MetricFamily
}

func (f *families) family(d *metricDef) *dto.MetricFamily {
	if f.byDef == nil {
		f.byDef = map[*metricDef]*dto.MetricFamily{}
	}
	mf := f.byDef[d]
	if mf == nil {
		name, help, typ := d.name, d.help, d.typ
		mf = &dto.MetricFamily{Name: &name, Help: &help, Type: &typ}
		f.byDef[d] = mf
		f.list = append(f.list, mf)
	}
	return mf
}

// add adds a sample of d with the label pairs of d's labels (made by labelPairs).
func (f *families) add(d *metricDef, v float64, pairs []*dto.LabelPair) {
	mf := f.family(d)
	m := &dto.Metric{Label: pairs}
	if d.typ == counterType {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	mf.Metric = append(mf.Metric, m)
}

// labelPairs makes the label pairs of a sample of d.
func labelPairs(d *metricDef, values ...string) []*dto.LabelPair {
	return prometheus.MakeLabelPairs(d.desc, values)
}

// familyMetric is one sample of a family as a prometheus.Metric (Collect).
type familyMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (f familyMetric) Desc() *prometheus.Desc { return f.desc }

func (f familyMetric) Write(out *dto.Metric) error {
	out.Label, out.Counter, out.Gauge = f.m.Label, f.m.Counter, f.m.Gauge
	return nil
}
