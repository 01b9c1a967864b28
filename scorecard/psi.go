package scorecard

import (
	"math"
	"sort"

	"github.com/dataport/dataport"
)

// PSIBin is one bin of a stability report.
type PSIBin struct {
	Label         string  `json:"label"`
	Expected      int     `json:"expected"`
	Actual        int     `json:"actual"`
	ExpectedShare float64 `json:"expected_share"`
	ActualShare   float64 `json:"actual_share"`
	Contribution  float64 `json:"contribution"` // (actual − expected) · ln(actual / expected)
}

// PSIReport is a population (or characteristic) stability index and its bins.
type PSIReport struct {
	Index   float64  `json:"index"`
	Verdict string   `json:"verdict"`
	Bins    []PSIBin `json:"bins"`
}

// Verdict reads a stability index with the customary thresholds (Siddiqi ch. 12;
// Yurdakul, "Statistical Properties of Population Stability Index", 2018): below
// 0.1 no significant shift, 0.1 to 0.25 a shift to investigate, above 0.25 a major
// shift.
func Verdict(index float64) string {
	switch {
	case index < 0.1:
		return "stable"
	case index < 0.25:
		return "shift: investigate"
	}
	return "major shift"
}

// stability computes Σ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over bin shares. An empty bin counts
// half a row, so that the index stays finite when a bin empties or appears.
func stability(labels []string, exp, act []int) PSIReport {
	var te, ta float64
	for i := range exp {
		te += float64(exp[i])
		ta += float64(act[i])
	}
	rep := PSIReport{Bins: make([]PSIBin, len(exp))}
	for i := range exp {
		e, a := float64(exp[i])/te, float64(act[i])/ta
		es, as := max(float64(exp[i]), 0.5)/te, max(float64(act[i]), 0.5)/ta
		c := (as - es) * math.Log(as/es)
		rep.Bins[i] = PSIBin{Label: labels[i], Expected: exp[i], Actual: act[i], ExpectedShare: e, ActualShare: a, Contribution: c}
		rep.Index += c
	}
	rep.Verdict = Verdict(rep.Index)
	return rep
}

// PSI compares the distribution of actual with that of expected (the development
// sample) over bins cut at quantiles of expected (equal shares of it); missing
// values (NaN) form a bin of their own.
func PSI(expected, actual []float64, bins int) (PSIReport, error) {
	const op = "scorecard.PSI"
	if len(expected) == 0 || len(actual) == 0 {
		return PSIReport{}, dataport.Errorf(op, dataport.KindInvalid, "both samples need rows (expected %d, actual %d)", len(expected), len(actual))
	}
	if bins < 2 {
		return PSIReport{}, dataport.Errorf(op, dataport.KindInvalid, "at least 2 bins, not %d", bins)
	}
	cuts := quantileEdges(expected, bins)
	k := len(cuts) + 1
	labels := make([]string, k, k+1)
	for i := range labels {
		var lo, hi *float64
		if i > 0 {
			lo = &cuts[i-1]
		}
		if i < len(cuts) {
			hi = &cuts[i]
		}
		labels[i] = rangeLabel(lo, hi)
	}
	exp, act := make([]int, k+1), make([]int, k+1)
	count := func(v []float64, into []int) {
		for _, x := range v {
			if math.IsNaN(x) {
				into[k]++
				continue
			}
			into[sort.SearchFloat64s(cuts, math.Nextafter(x, math.Inf(1)))]++
		}
	}
	count(expected, exp)
	count(actual, act)
	if exp[k] == 0 && act[k] == 0 {
		exp, act = exp[:k], act[:k]
	} else {
		labels = append(labels, "missing")
	}
	return stability(labels, exp, act), nil
}

// FeatureShift is the characteristic stability of one characteristic over the
// model's bins. PointsShift is Σ (actualᵢ − expectedᵢ) · pointsᵢ: how much the
// average score moved because of this characteristic (Siddiqi's characteristic
// analysis).
type FeatureShift struct {
	Feature     string  `json:"feature"`
	PointsShift float64 `json:"points_shift"`
	PSIReport
}

// MonitorReport compares a recent sample with the development (or a reference)
// sample: the PSI of the scores and the CSI of each characteristic.
type MonitorReport struct {
	Model        string         `json:"model"`
	ExpectedRows int            `json:"expected_rows"`
	ActualRows   int            `json:"actual_rows"`
	Score        PSIReport      `json:"score"`
	Features     []FeatureShift `json:"characteristics"`
}

// Monitor scores both samples and reports the PSI of the scores (over deciles of
// the expected scores) and the CSI of every characteristic (over the model's bins).
// Neither sample needs the target.
func (m *Model) Monitor(expected, actual *Table) (*MonitorReport, error) {
	const op = "scorecard.Monitor"
	ep, ec, err := m.pointsOf(expected)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindOf(err), "the expected sample: %s", dataport.MessageOf(err))
	}
	ap, ac, err := m.pointsOf(actual)
	if err != nil {
		return nil, dataport.Errorf(op, dataport.KindOf(err), "the actual sample: %s", dataport.MessageOf(err))
	}
	rep := &MonitorReport{Model: m.ID, ExpectedRows: expected.Len(), ActualRows: actual.Len()}
	if rep.Score, err = PSI(ep, ap, 10); err != nil {
		return nil, pass(op, err)
	}
	for j, f := range m.Features {
		labels := make([]string, len(f.Bins))
		exp, act := make([]int, len(f.Bins)), make([]int, len(f.Bins))
		for i, b := range f.Bins {
			labels[i] = b.Label
		}
		for _, b := range ec[j] {
			exp[b]++
		}
		for _, b := range ac[j] {
			act[b]++
		}
		fs := FeatureShift{Feature: f.Name, PSIReport: stability(labels, exp, act)}
		for i, b := range fs.Bins {
			fs.PointsShift += (b.ActualShare - b.ExpectedShare) * f.Bins[i].Points
		}
		rep.Features = append(rep.Features, fs)
	}
	return rep, nil
}
