package scorecard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dataport/dataport"
)

// Config holds the choices of a training run. Start from DefaultConfig.
type Config struct {
	// Bad is the target value that marks a bad row; empty means 1 for a 0/1 target.
	Bad string `json:"bad,omitempty"`
	// Exclude names columns that are not characteristics (identifiers, dates, other
	// outcomes). A column called "id" in any case is excluded anyway.
	Exclude []string `json:"exclude,omitempty"`
	// Special lists, per numeric column, values that mean something other than their
	// number (such as −1 for "no account"); each gets a bin of its own.
	Special map[string][]float64 `json:"special,omitempty"`
	// FineBins is the number of quantile classes a numeric column starts from.
	FineBins int `json:"fine_bins"`
	// MinBinShare is the smallest share of the training rows a bin may hold
	// (Siddiqi suggests about 5%); missing and special bins are exempt.
	MinBinShare float64 `json:"min_bin_share"`
	// Trend is the monotonic constraint on numeric columns; Trends overrides it per column.
	Trend  Trend            `json:"trend"`
	Trends map[string]Trend `json:"trends,omitempty"`
	// MinIV drops characteristics with a lower information value (0.02: Siddiqi's
	// "unpredictive"); negative keeps all.
	MinIV float64 `json:"min_iv"`
	// MaxCorr drops, of two characteristics whose WoE columns correlate more than
	// this (absolute Pearson), the one with the lower IV; 1 or more keeps all.
	MaxCorr float64 `json:"max_corr"`
	// L2 is the ridge penalty λ on the coefficients (not the intercept), on the
	// scale of the summed log-likelihood.
	L2 float64 `json:"l2"`
	// KeepWrongSign keeps characteristics whose coefficient says risk rises with
	// WoE; by default they are dropped and the model refit, since the points of such
	// a characteristic would run against its own bad rates.
	KeepWrongSign bool `json:"keep_wrong_sign,omitempty"`
	// Scaling turns log-odds into points.
	Scaling Scaling `json:"scaling"`
	// Grades is the number of risk grades (A is the best), cut at quantiles of the
	// training scores.
	Grades int `json:"grades"`
}

// Scaling is the points scale of Siddiqi ch. 10: BasePoints at odds of BaseOdds
// (good:bad), and the odds double every PDO points.
type Scaling struct {
	BasePoints float64 `json:"base_points"`
	BaseOdds   float64 `json:"base_odds"`
	PDO        float64 `json:"pdo"`
}

// Factor is PDO / ln 2: points per unit of log-odds.
func (s Scaling) Factor() float64 { return s.PDO / math.Ln2 }

// Offset is BasePoints − Factor · ln(BaseOdds): the score at odds of 1:1.
func (s Scaling) Offset() float64 { return s.BasePoints - s.Factor()*math.Log(s.BaseOdds) }

// DefaultConfig returns the usual choices: 20 fine classes, bins of at least 5%,
// monotonic trends, IV ≥ 0.02, correlation ≤ 0.75, λ = 1, 600 points at 50:1 with
// 20 points to double the odds, and seven grades.
func DefaultConfig() Config {
	return Config{
		FineBins: 20, MinBinShare: 0.05, Trend: TrendAuto, MinIV: 0.02, MaxCorr: 0.75, L2: 1,
		Scaling: Scaling{BasePoints: 600, BaseOdds: 50, PDO: 20}, Grades: 7,
	}
}

func (c Config) validate(op string) error {
	var p dataport.Problems
	if c.FineBins < 2 || c.FineBins > 1000 {
		p.Add("fine_bins", "between 2 and 1000, not %d", c.FineBins)
	}
	if !(c.MinBinShare > 0 && c.MinBinShare <= 0.5) {
		p.Add("min_bin_share", "above 0 and at most 0.5, not %v", c.MinBinShare)
	}
	okTrend := func(t Trend) bool {
		return t == TrendAuto || t == TrendAscending || t == TrendDescending || t == TrendNone
	}
	if !okTrend(c.Trend) {
		p.Add("trend", "auto, ascending, descending or none, not %q", c.Trend)
	}
	for name, t := range c.Trends {
		if !okTrend(t) {
			p.Add("trends."+name, "auto, ascending, descending or none, not %q", t)
		}
	}
	if !(c.L2 >= 0) || math.IsInf(c.L2, 0) {
		p.Add("l2", "a number of 0 or more, not %v", c.L2)
	}
	if math.IsNaN(c.MinIV) || math.IsNaN(c.MaxCorr) {
		p.Add("min_iv", "a number")
	}
	s := c.Scaling
	if !(s.PDO > 0) || !(s.BaseOdds > 0) || math.IsInf(s.PDO, 0) || math.IsInf(s.BaseOdds, 0) || math.IsNaN(s.BasePoints) || math.IsInf(s.BasePoints, 0) {
		p.Add("scaling", "PDO and base odds above 0, finite base points")
	}
	if c.Grades < 1 || c.Grades > 26 {
		p.Add("grades", "between 1 and 26, not %d", c.Grades)
	}
	return p.Err(op)
}

// Feature is a characteristic of the scorecard: its bins, with their WoE and points.
type Feature struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`            // numeric or categorical
	Trend       Trend   `json:"trend,omitempty"` // of a numeric feature's bad rate
	IV          float64 `json:"iv"`
	Coefficient float64 `json:"coefficient"` // β of its WoE in logit P(bad)
	Bins        []Bin   `json:"bins"`
	// Unseen is the index of the bin that takes values training never saw (a new
	// category, or a missing value when training had none): the riskiest bin, so that
	// the unknown is never rewarded.
	Unseen int `json:"unseen_bin"`
}

// Candidate records what became of a column in selection.
type Candidate struct {
	Name     string  `json:"name"`
	Kind     string  `json:"kind"`
	IV       float64 `json:"iv"`
	Bins     int     `json:"bins"`
	Selected bool    `json:"selected"`
	Reason   string  `json:"reason,omitempty"` // why it was left out
}

// Grade is a risk grade: scores of at least MinPoints (the lowest grade has none).
type Grade struct {
	Name      string   `json:"name"`
	MinPoints *float64 `json:"min_points,omitempty"`
}

// DataInfo describes the training data.
type DataInfo struct {
	SHA256  string  `json:"sha256"` // of the CSV bytes
	Rows    int     `json:"rows"`
	Bads    int     `json:"bads"`
	BadRate float64 `json:"bad_rate"`
}

// FitInfo describes the logistic regression.
type FitInfo struct {
	Iterations int     `json:"iterations"`
	LogLik     float64 `json:"log_likelihood"`
}

// Card is the model card (Mitchell et al., "Model Cards for Model Reporting", 2019).
type Card struct {
	IntendedUse string      `json:"intended_use"`
	Data        string      `json:"data"`
	Metrics     *CardMetric `json:"metrics,omitempty"`
	Limitations []string    `json:"limitations"`
}

// CardMetric is the validation quoted on a model card.
type CardMetric struct {
	Method      string   `json:"method"`
	AUC         float64  `json:"auc"`
	Gini        float64  `json:"gini"`
	KS          float64  `json:"ks"`
	Brier       float64  `json:"brier"`
	BaselineAUC *float64 `json:"baseline_auc,omitempty"`
}

// Schema names the JSON layout of a Model.
const Schema = "dataport.scorecard/v1"

// Model is a trained scorecard. Once sealed (Seal) it is an immutable artifact
// whose ID is the SHA-256 of its canonical JSON without the id.
type Model struct {
	ID         string      `json:"id,omitempty"`
	Schema     string      `json:"schema"`
	Version    string      `json:"version"`
	CreatedAt  time.Time   `json:"created_at"`
	Target     string      `json:"target"`
	Bad        string      `json:"bad"`
	Data       DataInfo    `json:"data"`
	Config     Config      `json:"config"`
	Intercept  float64     `json:"intercept"`
	Scaling    Scaling     `json:"scaling"`
	Features   []Feature   `json:"features"`
	Grades     []Grade     `json:"grades"`
	Candidates []Candidate `json:"candidates"`
	Fit        FitInfo     `json:"fit"`
	Card       Card        `json:"model_card"`

	lookups []lookup
}

// Train fits a scorecard of target on the other columns of t: binning, WoE,
// selection by IV and correlation, logistic regression and points. The model is
// not sealed: set Version, CreatedAt and the card, then Seal it.
func Train(t *Table, target string, cfg Config) (*Model, error) {
	return train(context.Background(), t, target, cfg)
}

// TrainContext is Train, stopping when ctx is done.
func TrainContext(ctx context.Context, t *Table, target string, cfg Config) (*Model, error) {
	return train(ctx, t, target, cfg)
}

func train(ctx context.Context, t *Table, target string, cfg Config) (*Model, error) {
	const op = "scorecard.Train"
	if err := cfg.validate(op); err != nil {
		return nil, err
	}
	y, err := t.Labels(target, cfg.Bad)
	if err != nil {
		return nil, pass(op, err)
	}
	n := len(y)
	bads := 0
	for _, v := range y {
		bads += int(v)
	}

	cols, cands, err := characteristics(t, target, cfg)
	if err != nil {
		return nil, pass(op, err)
	}
	minCount := max(1, int(math.Ceil(cfg.MinBinShare*float64(n))))

	// Bin every column and measure its IV.
	feats := make([]Feature, len(cols))
	for i, c := range cols {
		f := Feature{Name: c.Name, Kind: c.Kind.String()}
		if c.Kind == Categorical {
			f.Bins = binCategorical(c.Values, c.Levels, y, minCount)
		} else {
			tr := cfg.Trend
			if o, ok := cfg.Trends[c.Name]; ok {
				tr = o
			}
			f.Bins, f.Trend = binNumeric(c.Values, y, binParams{fine: cfg.FineBins, minCount: minCount, trend: tr, special: cfg.Special[c.Name]})
		}
		for _, b := range f.Bins {
			f.IV += b.IV
		}
		feats[i] = f
	}
	candIdx := make(map[string]int, len(cands))
	for i := range cands {
		candIdx[cands[i].Name] = i
	}
	var alive []int
	for i, f := range feats {
		ci := candIdx[f.Name]
		cands[ci].IV, cands[ci].Bins = f.IV, len(f.Bins)
		switch {
		case len(f.Bins) < 2:
			cands[ci].Reason = "a single bin: nothing to tell goods from bads"
		case f.IV < cfg.MinIV:
			cands[ci].Reason = fmt.Sprintf("information value %.4f below %.4g", f.IV, cfg.MinIV)
		default:
			alive = append(alive, i)
		}
	}
	// The WoE columns of the survivors.
	binOf := make([][]int32, len(feats))
	woeCol := make([][]float64, len(feats))
	for _, i := range alive {
		lk := newLookup(&feats[i])
		bi := lk.codes(cols[i])
		binOf[i] = bi
		w := make([]float64, n)
		for r, b := range bi {
			w[r] = feats[i].Bins[b].WoE
		}
		woeCol[i] = w
	}
	// Correlation filter, strongest IV first.
	sort.SliceStable(alive, func(a, b int) bool { return feats[alive[a]].IV > feats[alive[b]].IV })
	if cfg.MaxCorr < 1 {
		var kept []int
		for _, i := range alive {
			drop := false
			for _, k := range kept {
				if r := pearson(woeCol[i], woeCol[k]); math.Abs(r) > cfg.MaxCorr {
					cands[candIdx[feats[i].Name]].Reason = fmt.Sprintf("WoE correlates %.2f with %s, which has the higher IV", r, feats[k].Name)
					drop = true
					break
				}
			}
			if !drop {
				kept = append(kept, i)
			}
		}
		alive = kept
	}
	if len(alive) == 0 {
		return nil, dataport.Errorf(op, dataport.KindInvalid, "no characteristic passes selection (information value at least %g): nothing predicts %q", cfg.MinIV, target)
	}
	// Fit, dropping wrong-signed characteristics one at a time (the most wrong first).
	var f fit
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d := newDesign(n, len(alive)+1)
		x := make([]float64, len(alive)+1)
		for r := 0; r < n; r++ {
			x[0] = 1
			for j, i := range alive {
				x[j+1] = woeCol[i][r]
			}
			d.addRow(x)
		}
		f, err = fitLogistic(ctx, d, y, cfg.L2)
		if err != nil {
			return nil, dataport.Errorf(op, dataport.KindInvalid, "%v (raise the L2 penalty or drop constant columns)", err)
		}
		worst, worstB := -1, 0.0
		for j := range alive {
			if b := f.beta[j+1]; b > worstB {
				worst, worstB = j, b
			}
		}
		if worst < 0 || cfg.KeepWrongSign || len(alive) == 1 {
			break
		}
		cands[candIdx[feats[alive[worst]].Name]].Reason = fmt.Sprintf("coefficient %.3f has the wrong sign (risk would rise with WoE)", worstB)
		alive = slices.Delete(alive, worst, worst+1)
	}

	m := &Model{
		Schema: Schema, Target: target, Bad: cfg.Bad, Config: cfg, Scaling: cfg.Scaling,
		Intercept: f.beta[0], Fit: FitInfo{Iterations: f.iterations, LogLik: f.logLik},
		Data: DataInfo{SHA256: t.SHA256, Rows: n, Bads: bads, BadRate: float64(bads) / float64(n)},
	}
	if m.Bad == "" {
		m.Bad = "1"
	}
	coef := make(map[int]float64, len(alive))
	for j, i := range alive {
		coef[i] = f.beta[j+1]
	}
	// Keep the characteristics in file order, so the card reads like the data.
	slices.Sort(alive)
	factor, offset := cfg.Scaling.Factor(), cfg.Scaling.Offset()
	k := float64(len(alive))
	for _, i := range alive {
		ft := feats[i]
		cands[candIdx[ft.Name]].Selected = true
		cands[candIdx[ft.Name]].Reason = ""
		ft.Coefficient = coef[i]
		for b := range ft.Bins {
			ft.Bins[b].Points = -(ft.Coefficient*ft.Bins[b].WoE+m.Intercept/k)*factor + offset/k
			if ft.Bins[b].Points < ft.Bins[ft.Unseen].Points {
				ft.Unseen = b
			}
		}
		m.Features = append(m.Features, ft)
	}
	m.Candidates = cands
	m.buildLookups()

	// Grades: equal shares of the training scores, A the best.
	codes := make([][]int32, len(m.Features))
	for j, i := range alive {
		codes[j] = binOf[i]
	}
	points := make([]float64, n)
	for r := range points {
		s := 0.0
		for j := range m.Features {
			s += m.Features[j].Bins[codes[j][r]].Points
		}
		points[r] = s
	}
	m.Grades = gradeCuts(points, cfg.Grades)

	m.Card = Card{
		IntendedUse: "Ranking applicants by the risk that the target event follows, as one input to a credit decision that a person reviews; " +
			"not for populations unlike the training data.",
		Data: fmt.Sprintf("%d rows, %d of them bad (%.1f%%: target %q = %s); CSV SHA-256 %s",
			n, bads, 100*float64(bads)/float64(n), target, m.Bad, t.SHA256),
		Limitations: []string{
			"Trained on one sample: bins, WoE and points hold for populations like it; monitor the PSI of scores and the CSI of characteristics.",
			"The probability of default comes from the logistic link and matches the training bad rate, not a long-run default rate.",
			"Values not seen in training take the riskiest bin of their characteristic.",
			"Only rows with a known outcome were used (no reject inference).",
		},
	}
	return m, nil
}

// gradeCuts returns up to g grades cut at quantiles of the scores, the best first.
func gradeCuts(points []float64, g int) []Grade {
	s := slices.Clone(points)
	sort.Float64s(s)
	var cuts []float64 // descending
	for i := g - 1; i >= 1; i-- {
		c := s[i*len(s)/g]
		if c > s[0] && (len(cuts) == 0 || c < cuts[len(cuts)-1]) {
			cuts = append(cuts, c)
		}
	}
	grades := make([]Grade, 0, len(cuts)+1)
	for i, c := range cuts {
		grades = append(grades, Grade{Name: string(rune('A' + i)), MinPoints: ptr(c)})
	}
	return append(grades, Grade{Name: string(rune('A' + len(cuts)))})
}

// characteristics returns the columns that may enter the model, and a candidate
// entry for every column but the target.
func characteristics(t *Table, target string, cfg Config) ([]*Column, []Candidate, error) {
	const op = "scorecard.characteristics"
	var p dataport.Problems
	for _, name := range cfg.Exclude {
		if t.Column(name) == nil {
			p.Add("exclude", "no column %q", name)
		}
	}
	for name := range cfg.Special {
		c := t.Column(name)
		if c == nil {
			p.Add("special", "no column %q", name)
		} else if c.Kind != Numeric {
			p.Add("special", "%q is categorical: its special values are categories already", name)
		}
	}
	for name := range cfg.Trends {
		if t.Column(name) == nil {
			p.Add("trends", "no column %q", name)
		}
	}
	if err := p.Err(op); err != nil {
		return nil, nil, err
	}
	var cols []*Column
	var cands []Candidate
	for _, c := range t.Columns {
		if c.Name == target {
			continue
		}
		cand := Candidate{Name: c.Name, Kind: c.Kind.String()}
		switch {
		case slices.Contains(cfg.Exclude, c.Name):
			cand.Reason = "excluded"
		case strings.EqualFold(c.Name, "id"):
			cand.Reason = "a row identifier"
		case c.Kind == Categorical && distinct(c.Values) > len(c.Values)/2:
			cand.Reason = "more distinct values than half the rows: an identifier or free text"
		default:
			cols = append(cols, c)
		}
		cands = append(cands, cand)
	}
	return cols, cands, nil
}

func distinct(v []float64) int {
	seen := make(map[float64]struct{})
	for _, x := range v {
		if !math.IsNaN(x) {
			seen[x] = struct{}{}
		}
	}
	return len(seen)
}

func pearson(a, b []float64) float64 {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return 0
	}
	return sab / math.Sqrt(saa*sbb)
}
