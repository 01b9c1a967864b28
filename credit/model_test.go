package credit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/finance"
)

// Retraining from the documented specification reproduces the committed model:
// byte for byte, and so its content id, where it was built (amd64); elsewhere
// the Go specification lets a compiler fuse x*y + z into one rounding (arm64,
// ppc64, s390x), so there the artifact must agree in every bin, name and count,
// and in every number to within 1e-9 of its size. The artifact is what its card
// says it is.
func TestCommittedModelIsReproducible(t *testing.T) {
	start := time.Now()
	tr, err := credit.TrainModel(context.Background(), credit.DefaultModelSpec())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("retrained in %v: %s", time.Since(start).Round(time.Millisecond), tr.Model.ID)
	committed, err := credit.DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	var got, want any
	if err := json.Unmarshal(tr.Artifact, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(credit.ModelArtifact(), &want); err != nil {
		t.Fatal(err)
	}
	if diff := differs("model", got, want); diff != "" {
		t.Fatalf("retraining on %s differs from the committed model at %s", runtime.GOARCH, diff)
	}
	if runtime.GOARCH == "amd64" && (tr.Model.ID != committed.ID || !bytes.Equal(tr.Artifact, credit.ModelArtifact())) {
		t.Fatalf("retraining gives model %s, the committed one is %s: run go generate ./credit/ and commit models/merchant.json",
			tr.Model.ID, committed.ID)
	}
	h := tr.Holdout
	t.Logf("hold-out: AUC %.4f, Gini %.4f, KS %.4f, Brier %.4f; true PDs %.4f", h.AUC, h.Gini, h.KS, h.Brier, tr.OracleAUC)
	for _, g := range h.Calibration {
		t.Logf("grade %s: %5d merchants, predicted PD %.4f, observed %.4f", g.Grade, g.Rows, g.PredictedPD, g.ObservedPD)
	}
}

// The committed model loads, matches its id, scores only credit's inputs,
// grades on the master scale and carries a filled model card.
func TestCommittedModel(t *testing.T) {
	m, err := credit.DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Verify(); err != nil {
		t.Fatal(err)
	}
	if len(m.Features) < 5 {
		t.Errorf("%d characteristics", len(m.Features))
	}
	for _, f := range m.Features {
		if !slices.Contains(credit.InputNames, f.Name) {
			t.Errorf("characteristic %s is not an input", f.Name)
		}
	}
	c := m.Card
	if c.Metrics == nil || !(c.Metrics.AUC > 0.7 && c.Metrics.AUC < 0.9) || math.Abs(c.Metrics.Gini-(2*c.Metrics.AUC-1)) > 1e-12 ||
		!strings.Contains(c.Metrics.Method, "hold-out") || !strings.Contains(c.Data, "Synthetic") ||
		!strings.Contains(c.Data, "seed 20261125") || len(c.Limitations) < 3 || c.IntendedUse == "" {
		t.Errorf("model card %+v, metrics %+v", c, c.Metrics)
	}
	// Its grades are the master scale, in points: a score at a grade's lowest
	// points has the PD at the top of its band.
	if len(m.Grades) != len(credit.MasterScale) {
		t.Fatalf("grades %+v", m.Grades)
	}
	for i, g := range m.Grades {
		b := credit.MasterScale[i]
		if g.Name != string(b.Grade) || (g.MinPoints == nil) != (b.MaxPD == 0) {
			t.Fatalf("grade %+v, band %+v", g, b)
		}
		if g.MinPoints != nil {
			pd := 1 / (1 + math.Exp((*g.MinPoints-m.Scaling.Offset())/m.Scaling.Factor()))
			if math.Abs(pd-b.MaxPD) > 1e-12 {
				t.Errorf("grade %s starts at %.2f points, PD %v; the band ends at %v", g.Name, *g.MinPoints, pd, b.MaxPD)
			}
		}
	}
	// The service refuses a model changed after sealing.
	m.Features[0].Bins[0].Points++
	if _, err := credit.New(nil, nil, nil, m, credit.Options{}); dataport.KindOf(err) != dataport.KindInvalid {
		t.Errorf("a changed model: %v", err)
	}
}

// GradeOf puts each PD in its band, lower edges included.
func TestMasterScale(t *testing.T) {
	for _, c := range []struct {
		pd   float64
		want credit.RiskGrade
	}{{0, "A"}, {0.0099, "A"}, {0.01, "B"}, {0.0249, "B"}, {0.025, "C"}, {0.0499, "C"}, {0.05, "D"}, {0.1199, "D"}, {0.12, "E"}, {0.9, "E"}} {
		if g := credit.GradeOf(c.pd); g != c.want {
			t.Errorf("PD %v: grade %s, want %s", c.pd, g, c.want)
		}
	}
}

// The line policy on features built by hand.
func TestLinePolicy(t *testing.T) {
	cv := 0.4
	fs := finance.FeatureSet{Merchant: finance.Features{
		Windows: []finance.Window{{Days: 90, Sales: []finance.Sales{
			{Currency: "USD", Amount: 1 << 40},
			{Currency: "CNY", Amount: 9_300_000, Refunded: 300_000, CV: &cv},
		}}},
		Receivables: []finance.Receivable{{Currency: "CNY", Amount: 1_000_000}, {Currency: "USD", Amount: 1 << 40}},
	}}
	p := credit.DefaultPolicy()
	// M = ⌊(9,300,000 − 300,000) / 3 × (1 − 0.4)⌋ = 1,800,000; 0.8 × 1,000,000 + 0.5 × M = 1,700,000.
	line, b := p.Line(credit.GradeC, fs)
	if line != (dataport.Money{Amount: 1_700_000, Currency: "CNY"}) || b.StableMonthlySales != 1_800_000 || b.Uncapped != 1_700_000 ||
		math.Abs(b.Stability-0.6) > 1e-12 || b.Receivables != 1_000_000 || b.GradeCap != 20_000_000 {
		t.Errorf("grade C: %+v, %+v", line, b)
	}
	// Grade D's cap, 50,000 yuan, binds when the basis is larger.
	fs.Merchant.Receivables[0].Amount = 10_000_000
	if line, b = p.Line(credit.GradeD, fs); line.Amount != 5_000_000 || b.Uncapped != 8_900_000 {
		t.Errorf("grade D: %+v, %+v", line, b)
	}
	// Lines are whole hundreds of yuan, rounded down: 809,876 + 900,000 fen is 17,098.76 yuan.
	fs.Merchant.Receivables[0].Amount = 1_012_345
	if line, b = p.Line(credit.GradeA, fs); line.Amount != 1_700_000 || b.Uncapped != 1_709_876 {
		t.Errorf("grade A: %+v, %+v", line, b)
	}
	// Grade E gets nothing; without a sales CV the sales count for nothing.
	if line, _ = p.Line(credit.GradeE, fs); line.Amount != 0 {
		t.Errorf("grade E: %+v", line)
	}
	fs.Merchant.Windows[0].Sales[1].CV = nil
	if line, b = p.Line(credit.GradeA, fs); b.StableMonthlySales != 0 || line.Amount != 800_000 {
		t.Errorf("no CV: %+v, %+v", line, b)
	}
}

// differs says where two decoded JSON values differ, numbers compared to within
// 1e-9 of their size, and "" when they agree. Content ids, which hash the exact
// bytes, are left out.
func differs(at string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return at
		}
		for k, v := range w {
			if k == "id" {
				continue
			}
			if d := differs(at+"."+k, g[k], v); d != "" {
				return d
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return at
		}
		for i := range w {
			if d := differs(fmt.Sprintf("%s[%d]", at, i), g[i], w[i]); d != "" {
				return d
			}
		}
	case float64:
		g, ok := got.(float64)
		if !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return at
		}
	default:
		if got != want {
			return at
		}
	}
	return ""
}

// differs finds a number moved beyond rounding, and ignores rounding itself.
func TestDiffersSeesNumbers(t *testing.T) {
	want := map[string]any{"id": "a", "bins": []any{map[string]any{"woe": 0.5, "label": "x"}}}
	near := map[string]any{"id": "b", "bins": []any{map[string]any{"woe": 0.5 + 1e-12, "label": "x"}}}
	far := map[string]any{"id": "a", "bins": []any{map[string]any{"woe": 0.51, "label": "x"}}}
	if d := differs("m", near, want); d != "" {
		t.Fatalf("rounding counted as a difference at %s", d)
	}
	if d := differs("m", far, want); d != "m.bins[0].woe" {
		t.Fatalf("a moved number found at %q", d)
	}
}
