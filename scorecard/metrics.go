package scorecard

import (
	"math"
	"slices"
	"sort"
)

// Metrics is the validation of predicted probabilities of bad against outcomes.
type Metrics struct {
	N     int     `json:"n"`
	Bads  int     `json:"bads"`
	AUC   float64 `json:"auc"`
	Gini  float64 `json:"gini"`  // 2·AUC − 1 (the accuracy ratio)
	KS    float64 `json:"ks"`    // max |F_bad − F_good|, as a fraction
	Brier float64 `json:"brier"` // mean (pd − y)²
	// Gains is the gains table by tenths of the rows, riskiest first.
	Gains []GainsRow `json:"gains,omitempty"`
	// Calibration compares predicted and observed bad rates by grade.
	Calibration []GradeRow `json:"calibration,omitempty"`
}

// GainsRow is one tenth (or other share) of the rows, ranked riskiest first.
type GainsRow struct {
	Group      int     `json:"group"`
	Rows       int     `json:"rows"`
	Bads       int     `json:"bads"`
	BadRate    float64 `json:"bad_rate"`
	CumRows    float64 `json:"cum_rows_share"`
	CumBads    float64 `json:"cum_bads_share"` // the capture rate
	Lift       float64 `json:"cum_lift"`       // cumulative bad rate ÷ overall bad rate
	MaxPD      float64 `json:"max_pd"`
	MinPD      float64 `json:"min_pd"`
	CumKSSplit float64 `json:"cum_ks"` // cumulative %bad − %good at the group's end
}

// GradeRow is a grade's predicted and observed bad rate.
type GradeRow struct {
	Grade       string  `json:"grade"`
	Rows        int     `json:"rows"`
	Bads        int     `json:"bads"`
	PredictedPD float64 `json:"predicted_pd"` // mean predicted probability of bad
	ObservedPD  float64 `json:"observed_pd"`  // observed bad rate
}

// AUC is the area under the ROC curve of score (higher = more likely bad) for
// labels y (1 = bad): the probability that a random bad scores above a random good,
// a tie counting one half (the Mann–Whitney statistic). It is NaN without both classes.
func AUC(y, score []float64) float64 {
	idx := order(score)
	var goodsBelow, bads, goods, sum float64
	for i := 0; i < len(idx); {
		j := i
		var gb, gg float64
		for ; j < len(idx) && score[idx[j]] == score[idx[i]]; j++ {
			if y[idx[j]] == 1 {
				gb++
			} else {
				gg++
			}
		}
		sum += gb*goodsBelow + 0.5*gb*gg
		goodsBelow += gg
		bads += gb
		goods += gg
		i = j
	}
	if bads == 0 || goods == 0 {
		return math.NaN()
	}
	return sum / (bads * goods)
}

// KS is the Kolmogorov–Smirnov statistic: the largest gap between the cumulative
// shares of bads and of goods over score thresholds, tied scores taken together.
func KS(y, score []float64) float64 {
	idx := order(score)
	var bads, goods float64
	for _, v := range y {
		if v == 1 {
			bads++
		} else {
			goods++
		}
	}
	if bads == 0 || goods == 0 {
		return math.NaN()
	}
	var cb, cg, ks float64
	for i := 0; i < len(idx); {
		j := i
		for ; j < len(idx) && score[idx[j]] == score[idx[i]]; j++ {
			if y[idx[j]] == 1 {
				cb++
			} else {
				cg++
			}
		}
		ks = max(ks, math.Abs(cb/bads-cg/goods))
		i = j
	}
	return ks
}

// Brier is the mean squared difference between the probability of bad and the outcome.
func Brier(y, pd []float64) float64 {
	s := 0.0
	for i := range y {
		d := pd[i] - y[i]
		s += d * d
	}
	return s / float64(len(y))
}

// order returns indices sorting score ascending, ties by index.
func order(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	return idx
}

// Evaluate validates pd (probability of bad) against y. grades, when not nil,
// gives each row's grade for the calibration table, in the order of gradeNames.
func Evaluate(y, pd []float64, grades []string, gradeNames []string) Metrics {
	m := Metrics{N: len(y), AUC: AUC(y, pd), KS: KS(y, pd), Brier: Brier(y, pd)}
	m.Gini = 2*m.AUC - 1
	for _, v := range y {
		m.Bads += int(v)
	}
	m.Gains = gains(y, pd, 10)
	if grades != nil {
		rows := make(map[string]*GradeRow)
		for _, g := range gradeNames {
			rows[g] = &GradeRow{Grade: g}
		}
		for i, g := range grades {
			r := rows[g]
			if r == nil {
				r = &GradeRow{Grade: g}
				rows[g] = r
				gradeNames = append(gradeNames, g)
			}
			r.Rows++
			r.Bads += int(y[i])
			r.PredictedPD += pd[i]
		}
		for _, g := range gradeNames {
			r := rows[g]
			if r.Rows > 0 {
				r.PredictedPD /= float64(r.Rows)
				r.ObservedPD = float64(r.Bads) / float64(r.Rows)
			}
			m.Calibration = append(m.Calibration, *r)
		}
	}
	return m
}

// gains ranks rows riskiest first and cuts them into k groups of equal size (rows
// with tied scores on a boundary are split by position).
func gains(y, pd []float64, k int) []GainsRow {
	n := len(y)
	if n == 0 {
		return nil
	}
	idx := order(pd)
	slices.Reverse(idx)
	var bads, goods float64
	for _, v := range y {
		if v == 1 {
			bads++
		} else {
			goods++
		}
	}
	rate := bads / float64(n)
	var out []GainsRow
	var cb, cg, cn float64
	for g := 0; g < k; g++ {
		lo, hi := g*n/k, (g+1)*n/k
		if lo == hi {
			continue
		}
		r := GainsRow{Group: g + 1, Rows: hi - lo, MaxPD: pd[idx[lo]], MinPD: pd[idx[hi-1]]}
		for _, i := range idx[lo:hi] {
			if y[i] == 1 {
				r.Bads++
			}
		}
		cb += float64(r.Bads)
		cg += float64(r.Rows - r.Bads)
		cn += float64(r.Rows)
		r.BadRate = float64(r.Bads) / float64(r.Rows)
		r.CumRows = cn / float64(n)
		if bads > 0 {
			r.CumBads = cb / bads
		}
		if rate > 0 {
			r.Lift = (cb / cn) / rate
		}
		if bads > 0 && goods > 0 {
			r.CumKSSplit = cb/bads - cg/goods
		}
		out = append(out, r)
	}
	return out
}

// quantileEdges returns up to k−1 increasing cut points at quantiles of v (NaN ignored).
func quantileEdges(v []float64, k int) []float64 {
	s := make([]float64, 0, len(v))
	for _, x := range v {
		if !math.IsNaN(x) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return nil
	}
	sort.Float64s(s)
	var cuts []float64
	for i := 1; i < k; i++ {
		c := s[i*len(s)/k]
		if c > s[0] && (len(cuts) == 0 || c > cuts[len(cuts)-1]) {
			cuts = append(cuts, c)
		}
	}
	return cuts
}
