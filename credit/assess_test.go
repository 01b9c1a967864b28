package credit

import (
	"testing"
	"time"

	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
)

// BenchmarkScore measures scoring throughput without the database, over 500
// generated merchants in turn: "model" is the inputs read from the features and
// scored (points, PD, reasons), graded and given a line; "decision" is all a
// decision's content, the inputs' hash (canonical JSON, SHA-256) included.
func BenchmarkScore(b *testing.B) {
	model, err := DefaultModel()
	if err != nil {
		b.Fatal(err)
	}
	s := &Service{model: model, policy: DefaultPolicy()}
	asOf := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	p := merchantsim.DefaultParams()
	sets := make([]finance.FeatureSet, 500)
	for i := range sets {
		m := p.Draw(1, i)
		sets[i] = m.Features(asOf)
		sets[i].DataThrough = int64(i + 1)
	}
	b.Run("model", func(b *testing.B) {
		i := 0
		for b.Loop() {
			fs := sets[i%len(sets)]
			sc, err := s.model.Score(Inputs(fs))
			if err != nil {
				b.Fatal(err)
			}
			s.policy.Line(GradeOf(sc.PD), fs)
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
	})
	b.Run("decision", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := s.assess(sets[i%len(sets)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
	})
}
