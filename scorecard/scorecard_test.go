package scorecard

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func readString(t *testing.T, csv string, opts ReadOptions) *Table {
	t.Helper()
	tab, err := ReadCSV(strings.NewReader(csv), opts)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// synthetic returns n rows with a known structure: risk falls with income, rises
// with utilisation, depends on a region category and on four weak inputs, and
// income is missing for some rows, whose risk is higher.
func synthetic(n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	b.WriteString("id,income,util,region,w1,w2,w3,w4,bad\n")
	regions := []string{"north", "south", "east", "west", "isle"}
	regionRisk := []float64{-0.5, 0.2, 0, 0.6, 0.3}
	for i := 0; i < n; i++ {
		income := 1000 + rng.Float64()*9000
		util := rng.Float64()
		r := rng.IntN(len(regions))
		if r == 4 && rng.IntN(10) > 0 {
			r = rng.IntN(4) // the isle is rare
		}
		w := [4]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		z := -1.2 - 0.0003*(income-5500) + 2*(util-0.5) + regionRisk[r] + 0.4*w[0] + 0.3*w[1] + 0.3*w[2] + 0.2*w[3]
		incomeCell := fmt.Sprintf("%.0f", income)
		if rng.IntN(20) == 0 {
			incomeCell = ""
			z += 0.8
		}
		y := 0
		if rng.Float64() < sigmoid(z) {
			y = 1
		}
		fmt.Fprintf(&b, "%d,%s,%.3f,%s,%.3f,%.3f,%.3f,%.3f,%d\n", i+1, incomeCell, util, regions[r], w[0], w[1], w[2], w[3], y)
	}
	return b.String()
}

func TestAUCWithTiesByHand(t *testing.T) {
	// Bads score 0.8, 0.6, 0.2; goods 0.6, 0.2, 0.1. Pairs won by the bad: 0.8 beats
	// all three goods (3), 0.6 ties one and beats two (2.5), 0.2 ties one and beats
	// one (1.5): 7 of 9 pairs.
	y := []float64{1, 1, 0, 0, 1, 0}
	s := []float64{0.8, 0.6, 0.6, 0.2, 0.2, 0.1}
	if got := AUC(y, s); !near(got, 7.0/9, 1e-12) {
		t.Fatalf("AUC %v, want 7/9", got)
	}
	// Cumulative shares from the top: bads 1/3, 2/3, 1, 1; goods 0, 1/3, 2/3, 1.
	if got := KS(y, s); !near(got, 1.0/3, 1e-12) {
		t.Fatalf("KS %v, want 1/3", got)
	}
	// A tie across the classes is one threshold: no separation.
	if got := KS([]float64{1, 0}, []float64{0.5, 0.5}); got != 0 {
		t.Fatalf("KS of a tie %v, want 0", got)
	}
	if got := AUC([]float64{1, 0}, []float64{0.5, 0.5}); got != 0.5 {
		t.Fatalf("AUC of a tie %v", got)
	}
	if got := Brier([]float64{1, 0}, []float64{0.75, 0.5}); !near(got, (0.0625+0.25)/2, 1e-15) {
		t.Fatalf("Brier %v", got)
	}
	m := Evaluate(y, s, nil, nil)
	if !near(m.Gini, 2*m.AUC-1, 1e-15) || len(m.Gains) != 6 {
		t.Fatalf("metrics %+v", m)
	}
	last := m.Gains[len(m.Gains)-1]
	if last.CumBads != 1 || last.CumRows != 1 || !near(last.Lift, 1, 1e-12) {
		t.Fatalf("last gains row %+v", last)
	}
}

func TestPSIByHand(t *testing.T) {
	// Two bins cut at 2 (the median of expected): expected shares ½, ½; actual ¾, ¼.
	rep, err := PSI([]float64{1, 1, 2, 2}, []float64{1, 1, 1, 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := 0.25*math.Log(1.5) + 0.25*math.Log(2)
	if !near(rep.Index, want, 1e-12) || len(rep.Bins) != 2 || rep.Verdict != "major shift" {
		t.Fatalf("PSI %+v, want %v", rep, want)
	}
	same, _ := PSI([]float64{1, 2, 3, 4, 5}, []float64{1, 2, 3, 4, 5}, 5)
	if same.Index != 0 || same.Verdict != "stable" {
		t.Fatalf("PSI of the same sample %+v", same)
	}
	// A bin that empties stays finite, and missing values have their own bin.
	gone, _ := PSI([]float64{1, 2, math.NaN()}, []float64{2, 2, 2}, 2)
	if math.IsInf(gone.Index, 0) || math.IsNaN(gone.Index) || gone.Bins[len(gone.Bins)-1].Label != "missing" {
		t.Fatalf("PSI with an emptied bin %+v", gone)
	}
	if _, err := PSI(nil, []float64{1}, 10); err == nil {
		t.Fatal("an empty sample passed")
	}
}

func TestWoEAndIVByHand(t *testing.T) {
	// Category a: 8 goods, 2 bads; b: 4 goods, 6 bads. Totals 12 goods, 8 bads.
	var b strings.Builder
	b.WriteString("c,y\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&b, "a,%d\n", map[bool]int{true: 1}[i < 2])
		fmt.Fprintf(&b, "b,%d\n", map[bool]int{true: 1}[i < 6])
	}
	tab := readString(t, b.String(), ReadOptions{})
	cfg := DefaultConfig()
	cfg.MinIV = -1
	m, err := Train(tab, "y", cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Features[0]
	woeA, woeB := math.Log((8.0/12)/(2.0/8)), math.Log((4.0/12)/(6.0/8))
	ivA, ivB := (8.0/12-2.0/8)*woeA, (4.0/12-6.0/8)*woeB
	byLabel := map[string]Bin{}
	for _, bin := range f.Bins {
		byLabel[bin.Label] = bin
	}
	if a := byLabel["{a}"]; !near(a.WoE, woeA, 1e-12) || !near(a.IV, ivA, 1e-12) {
		t.Fatalf("bin a %+v, want WoE %v IV %v", a, woeA, ivA)
	}
	if bb := byLabel["{b}"]; !near(bb.WoE, woeB, 1e-12) || !near(bb.IV, ivB, 1e-12) {
		t.Fatalf("bin b %+v, want WoE %v IV %v", bb, woeB, ivB)
	}
	if !near(f.IV, ivA+ivB, 1e-12) || f.IV <= 0 {
		t.Fatalf("IV %v, want %v", f.IV, ivA+ivB)
	}
	// The sign convention: the safer category has the higher WoE and more points,
	// and the coefficient of WoE in logit P(bad) is negative.
	if !(byLabel["{a}"].WoE > 0 && byLabel["{b}"].WoE < 0 && byLabel["{a}"].Points > byLabel["{b}"].Points && f.Coefficient < 0) {
		t.Fatalf("sign convention broken: %+v", f)
	}
}

func TestMonotoneBinning(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 5000
	x := make([]float64, n)
	yUp := make([]float64, n)
	yU := make([]float64, n)
	for i := range x {
		x[i] = rng.Float64() * 100
		if rng.Float64() < 0.05+0.3*x[i]/100 {
			yUp[i] = 1
		}
		if rng.Float64() < 0.05+0.4*math.Abs(x[i]-50)/50 {
			yU[i] = 1
		}
	}
	minCount := n / 20
	check := func(name string, bins []Bin, wantMonotone bool) {
		t.Helper()
		dir := 0
		monotone := true
		for i, b := range bins {
			if b.Count < minCount {
				t.Errorf("%s: bin %s holds %d rows, below %d", name, b.Label, b.Count, minCount)
			}
			if i > 0 {
				prev := float64(bins[i-1].Bads) / float64(bins[i-1].Count)
				cur := float64(b.Bads) / float64(b.Count)
				d := 1
				if cur < prev {
					d = -1
				}
				if dir != 0 && d != dir || cur == prev {
					monotone = false
				}
				dir = d
				if *b.Lo != *bins[i-1].Hi {
					t.Errorf("%s: bins %d and %d do not join", name, i-1, i)
				}
			}
		}
		if monotone != wantMonotone {
			t.Errorf("%s: monotone %v, want %v: %+v", name, monotone, wantMonotone, bins)
		}
		if bins[0].Lo != nil || bins[len(bins)-1].Hi != nil {
			t.Errorf("%s: the ranges do not cover the line", name)
		}
	}
	bins, trend := binNumeric(x, yUp, binParams{fine: 20, minCount: minCount, trend: TrendAuto})
	if trend != TrendAscending || len(bins) < 4 {
		t.Fatalf("rising risk: trend %s, %d bins", trend, len(bins))
	}
	check("rising", bins, true)
	bins, trend = binNumeric(x, yU, binParams{fine: 20, minCount: minCount, trend: TrendAuto})
	check("U-shaped, monotonic", bins, true)
	bins, _ = binNumeric(x, yU, binParams{fine: 20, minCount: minCount, trend: TrendNone})
	check("U-shaped, free", bins, false)

	// Missing and special values keep bins of their own.
	x[0], x[1], x[2] = math.NaN(), -1, -1
	bins, _ = binNumeric(x, yUp, binParams{fine: 20, minCount: minCount, trend: TrendAuto, special: []float64{-1}})
	last2 := bins[len(bins)-2:]
	if last2[0].Kind != BinSpecial || last2[0].Count != 2 || last2[1].Kind != BinMissing || last2[1].Count != 1 {
		t.Fatalf("special and missing bins: %+v", last2)
	}
}

func TestPointsScaling(t *testing.T) {
	s := Scaling{BasePoints: 600, BaseOdds: 50, PDO: 20}
	if got := s.Offset() + s.Factor()*math.Log(50); !near(got, 600, 1e-9) {
		t.Fatalf("odds 50:1 score %v, want 600", got)
	}
	if got := s.Offset() + s.Factor()*math.Log(100); !near(got, 620, 1e-9) {
		t.Fatalf("odds 100:1 score %v, want 620 (doubling the odds adds PDO)", got)
	}
	tab := readString(t, synthetic(4000, 1), ReadOptions{})
	cfg := DefaultConfig()
	m, err := Train(tab, "bad", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if m.Candidates[0].Selected || m.Candidates[0].Reason != "a row identifier" {
		t.Fatalf("the id column: %+v", m.Candidates[0])
	}
	scores, err := m.ScoreTable(tab)
	if err != nil {
		t.Fatal(err)
	}
	// Every score is Offset + Factor · ln(odds), the sum of its attributes' points,
	// and equals the regression's log-odds: Σ points = Offset − Factor·(α + Σ β·WoE).
	codes, _ := m.tableBins(tab)
	for r, sc := range scores[:200] {
		odds := (1 - sc.PD) / sc.PD
		if !near(sc.Points, m.Scaling.Offset()+m.Scaling.Factor()*math.Log(odds), 1e-6) {
			t.Fatalf("row %d: points %v, PD %v", r, sc.Points, sc.PD)
		}
		logit := m.Intercept
		for j, f := range m.Features {
			logit += f.Coefficient * f.Bins[codes[j][r]].WoE
		}
		if !near(sc.Points, m.Scaling.Offset()-m.Scaling.Factor()*logit, 1e-6) {
			t.Fatalf("row %d: points %v, from the regression %v", r, sc.Points, m.Scaling.Offset()-m.Scaling.Factor()*logit)
		}
	}
	// Twice the PDO means half the points per unit of log-odds around the same base.
	cfg2 := cfg
	cfg2.Scaling.PDO = 40
	m2, err := Train(tab, "bad", cfg2)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := m2.ScoreTable(tab)
	for r := range 50 {
		if !near(s2[r].Points-600, 2*(scores[r].Points-600), 1e-6) || !near(s2[r].PD, scores[r].PD, 1e-12) {
			t.Fatalf("row %d: PDO 20 gives %v, PDO 40 gives %v", r, scores[r].Points, s2[r].Points)
		}
	}
	// Grades run from A, the best, downwards.
	if len(m.Grades) != cfg.Grades || m.Grades[0].Name != "A" || m.Grades[len(m.Grades)-1].MinPoints != nil {
		t.Fatalf("grades %+v", m.Grades)
	}
}

func TestReasonCodes(t *testing.T) {
	tab := readString(t, synthetic(4000, 2), ReadOptions{})
	cfg := DefaultConfig()
	cfg.MinIV = -1
	m, err := Train(tab, "bad", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Features) <= MaxReasons {
		t.Fatalf("want more than %d characteristics for this test, have %d", MaxReasons, len(m.Features))
	}
	scores, _ := m.ScoreTable(tab)
	// The lowest score loses points on most characteristics.
	worst := 0
	for i, s := range scores {
		if s.Points < scores[worst].Points {
			worst = i
		}
	}
	s := scores[worst]
	if len(s.Reasons) != MaxReasons {
		t.Fatalf("%d reasons for the worst row, want %d: %+v", len(s.Reasons), MaxReasons, s.Reasons)
	}
	lost := map[string]float64{}
	for j, f := range m.Features {
		best := math.Inf(-1)
		for _, b := range f.Bins {
			best = max(best, b.Points)
		}
		lost[f.Name] = best - s.Attributes[j].Points
	}
	in := map[string]bool{}
	for i, r := range s.Reasons {
		in[r.Feature] = true
		if !near(r.PointsLost, lost[r.Feature], 1e-9) || !near(r.PointsLost, r.MaxPoints-r.Points, 1e-9) {
			t.Fatalf("reason %+v, lost %v", r, lost[r.Feature])
		}
		if i > 0 && r.PointsLost > s.Reasons[i-1].PointsLost {
			t.Fatalf("reasons out of order: %+v", s.Reasons)
		}
	}
	for name, l := range lost {
		if !in[name] && l > s.Reasons[len(s.Reasons)-1].PointsLost+1e-9 {
			t.Fatalf("%s cost %v points but is not a reason: %+v", name, l, s.Reasons)
		}
	}
	// The best row has no reasons where it scored the best attribute.
	row := map[string]any{}
	for _, f := range m.Features {
		best := f.Bins[0]
		for _, b := range f.Bins {
			if b.Points > best.Points {
				best = b
			}
		}
		switch best.Kind {
		case BinCategories:
			row[f.Name] = best.Categories[0]
		case BinMissing:
			row[f.Name] = nil
		case BinSpecial:
			row[f.Name] = *best.Value
		default:
			if best.Lo != nil {
				row[f.Name] = *best.Lo
			} else {
				row[f.Name] = *best.Hi - 1
			}
		}
	}
	top, err := m.Score(row)
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Reasons) != 0 || top.Grade != "A" {
		t.Fatalf("the best row: %+v", top)
	}
	if _, err := m.Score(map[string]any{}); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Fatalf("a row without characteristics: %v", err)
	}
}

func TestModelArtifact(t *testing.T) {
	tab := readString(t, synthetic(3000, 5), ReadOptions{})
	m, err := Train(tab, "bad", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Seal(); err == nil {
		t.Fatal("sealed without a version and creation time")
	}
	m.Version = "1.0.0"
	m.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	raw, err := m.Seal()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.ID) != 64 || m.Verify() != nil {
		t.Fatalf("id %q", m.ID)
	}
	back, err := Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if back.ID != m.ID || back.Data.SHA256 != tab.SHA256 || back.Card.Data == "" || len(back.Card.Limitations) == 0 {
		t.Fatalf("loaded %s, sealed %s", back.ID, m.ID)
	}
	a, _ := m.ScoreTable(tab)
	b, err := back.ScoreTable(tab)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Points != b[i].Points || a[i].Grade != b[i].Grade {
			t.Fatalf("row %d scores %v before saving and %v after", i, a[i].Points, b[i].Points)
		}
	}
	// Sealing is deterministic, and formatting is not content.
	again, _ := back.Seal()
	if back.ID != m.ID || !bytes.Equal(again, raw) {
		t.Fatal("sealing the loaded model changed it")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(&compact); err != nil {
		t.Fatalf("compact JSON: %v", err)
	}
	// Tampering: one attribute's points, an added field, the id itself.
	var obj map[string]any
	_ = json.Unmarshal(raw, &obj)
	feat := obj["features"].([]any)[0].(map[string]any)
	bin := feat["bins"].([]any)[0].(map[string]any)
	bin["points"] = bin["points"].(float64) + 10
	tampered, _ := json.Marshal(obj)
	if _, err := Load(bytes.NewReader(tampered)); err == nil || !strings.Contains(err.Error(), "does not match its id") {
		t.Fatalf("tampered points: %v", err)
	}
	if _, err := Load(strings.NewReader(strings.Replace(string(raw), `"id": "`+m.ID, `"id": "`+strings.Repeat("0", 64), 1))); err == nil {
		t.Fatal("a changed id passed")
	}
	if _, err := Load(strings.NewReader(`{"schema":"other/v9"}`)); err == nil {
		t.Fatal("another schema passed")
	}
	back.Features[0].Bins[0].Points++
	if back.Verify() == nil {
		t.Fatal("Verify missed a change in memory")
	}
}

func TestCrossValidateSynthetic(t *testing.T) {
	tab := readString(t, synthetic(3000, 9), ReadOptions{})
	cfg := DefaultConfig()
	r1, err := CrossValidate(context.Background(), tab, "bad", cfg, CVOptions{Folds: 5, Seed: 1, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := CrossValidate(context.Background(), tab, "bad", cfg, CVOptions{Folds: 5, Seed: 1, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Mean != r2.Mean {
		t.Fatalf("the same seed gave %+v and %+v", r1.Mean, r2.Mean)
	}
	if r1.Mean.AUC < 0.7 || r1.Baseline == nil || r1.Baseline.Mean.AUC < 0.7 || len(r1.Pooled.Calibration) == 0 {
		t.Fatalf("report %+v", r1)
	}
	// Stratified: every fold holds the same number of bads, give or take one.
	y, _ := tab.Labels("bad", "")
	folds := StratifiedFolds(y, 5, 1)
	per := make([]int, 5)
	for i, f := range folds {
		per[f] += int(y[i])
	}
	for _, c := range per {
		if c < per[0]-1 || c > per[0]+1 {
			t.Fatalf("bads per fold %v", per)
		}
	}
}

func TestMonitor(t *testing.T) {
	dev := readString(t, synthetic(3000, 11), ReadOptions{})
	m, err := Train(dev, "bad", DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	same, err := m.Monitor(dev, dev)
	if err != nil {
		t.Fatal(err)
	}
	if same.Score.Index != 0 || same.Features[0].Index != 0 {
		t.Fatalf("a sample against itself: %+v", same.Score)
	}
	// A recent sample whose utilisation has risen: the CSI of util moves most, and
	// the score shifts down by about util's points shift.
	recent := readString(t, synthetic(3000, 12), ReadOptions{})
	util := recent.Column("util")
	for i := range util.Values {
		util.Values[i] = math.Min(1, util.Values[i]+0.3)
	}
	rep, err := m.Monitor(dev, recent)
	if err != nil {
		t.Fatal(err)
	}
	var u FeatureShift
	for _, f := range rep.Features {
		if f.Feature == "util" {
			u = f
		}
	}
	if u.Index < 0.25 || u.PointsShift >= 0 || rep.Score.Index < 0.1 {
		t.Fatalf("util CSI %+v, score PSI %v", u, rep.Score.Index)
	}
}
