package scorecard

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/dataport/dataport"
)

// CVOptions says how to cross-validate.
type CVOptions struct {
	Folds int    // k, at least 2
	Seed  uint64 // the folds are a function of the seed and the data alone
	// Baseline also fits, on the same folds, a plain L2 logistic regression on
	// one-hot categorical columns and standardised numeric ones.
	Baseline bool
	// Workers is how many folds run at once; 0 means GOMAXPROCS.
	Workers int
}

// Summary holds the headline metrics of one fold or their mean.
type Summary struct {
	AUC   float64 `json:"auc"`
	Gini  float64 `json:"gini"`
	KS    float64 `json:"ks"`
	Brier float64 `json:"brier"`
}

// FoldResult is one fold: trained on the other folds, tested on this one.
type FoldResult struct {
	Fold      int      `json:"fold"`
	TrainRows int      `json:"train_rows"`
	TestRows  int      `json:"test_rows"`
	Features  int      `json:"features"` // characteristics the fold's scorecard kept
	Scorecard Summary  `json:"scorecard"`
	Baseline  *Summary `json:"baseline,omitempty"`
}

// CVReport is the result of k-fold cross-validation.
type CVReport struct {
	Folds   int          `json:"folds"`
	Seed    uint64       `json:"seed"`
	PerFold []FoldResult `json:"per_fold"`
	Mean    Summary      `json:"mean"` // of the folds' metrics
	Std     Summary      `json:"std"`  // sample standard deviation across folds
	// Pooled validates the out-of-fold predictions of all folds together, with the
	// gains table and calibration by grade (each fold's model grades its own rows).
	Pooled   Metrics         `json:"pooled"`
	Baseline *BaselineReport `json:"baseline,omitempty"`
}

// BaselineReport is the cross-validation of the plain logistic regression.
type BaselineReport struct {
	Method  string  `json:"method"`
	Mean    Summary `json:"mean"`
	Std     Summary `json:"std"`
	Pooled  Summary `json:"pooled"`
	Columns int     `json:"columns"` // design columns of the full data, intercept included
}

// StratifiedFolds assigns each row a fold in [0, k) so that every fold holds the
// same share of bads, up to one row; the assignment depends only on y, k and seed.
func StratifiedFolds(y []float64, k int, seed uint64) []int {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var bads, goods []int
	for i, v := range y {
		if v == 1 {
			bads = append(bads, i)
		} else {
			goods = append(goods, i)
		}
	}
	fold := make([]int, len(y))
	rng.Shuffle(len(bads), func(i, j int) { bads[i], bads[j] = bads[j], bads[i] })
	rng.Shuffle(len(goods), func(i, j int) { goods[i], goods[j] = goods[j], goods[i] })
	for i, r := range bads {
		fold[r] = i % k
	}
	for i, r := range goods {
		fold[r] = (i + len(bads)) % k
	}
	return fold
}

// CrossValidate estimates how the scorecard of cfg ranks rows it was not trained
// on: stratified k-fold cross-validation in which bins, WoE, selection and the
// regression are all learned inside each training fold.
func CrossValidate(ctx context.Context, t *Table, target string, cfg Config, opt CVOptions) (*CVReport, error) {
	const op = "scorecard.CrossValidate"
	if err := cfg.validate(op); err != nil {
		return nil, err
	}
	k := opt.Folds
	y, err := t.Labels(target, cfg.Bad)
	if err != nil {
		return nil, pass(op, err)
	}
	bads := 0
	for _, v := range y {
		bads += int(v)
	}
	if k < 2 {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "folds", Message: fmt.Sprintf("at least 2, not %d", k)})
	}
	if bads < k || len(y)-bads < k {
		return nil, dataport.Invalid(op, dataport.FieldProblem{Field: "folds",
			Message: fmt.Sprintf("%d-fold cross-validation needs at least %d bads and %d goods; the data has %d and %d", k, k, k, bads, len(y)-bads)})
	}
	if _, _, err := characteristics(t, target, cfg); err != nil {
		return nil, pass(op, err)
	}
	fold := StratifiedFolds(y, k, opt.Seed)
	rep := &CVReport{Folds: k, Seed: opt.Seed, PerFold: make([]FoldResult, k)}
	oofPD := make([]float64, len(y))
	oofBase := make([]float64, len(y))
	oofGrade := make([]string, len(y))
	var gradeNames []string

	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < min(workers, k); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				res, names, err := runFold(ctx, t, y, fold, f, target, cfg, opt.Baseline, oofPD, oofBase, oofGrade)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if err == nil {
					rep.PerFold[f] = res
					if len(names) > len(gradeNames) {
						gradeNames = names
					}
				}
				mu.Unlock()
			}
		}()
	}
	for f := 0; f < k; f++ {
		if ctx.Err() != nil {
			break
		}
		jobs <- f
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, pass(op, firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	sc := make([]Summary, k)
	for i, r := range rep.PerFold {
		sc[i] = r.Scorecard
	}
	rep.Mean, rep.Std = meanStd(sc)
	rep.Pooled = Evaluate(y, oofPD, oofGrade, gradeNames)
	if opt.Baseline {
		bs := make([]Summary, k)
		for i, r := range rep.PerFold {
			bs[i] = *r.Baseline
		}
		b := &BaselineReport{Method: "L2 logistic regression (same λ) on one-hot categorical columns and standardised numeric columns with missing-value indicators, same folds"}
		b.Mean, b.Std = meanStd(bs)
		b.Pooled = summarize(y, oofBase)
		cols, _, _ := characteristics(t, target, cfg)
		b.Columns = newOneHot(cols).p
		rep.Baseline = b
	}
	return rep, nil
}

func runFold(ctx context.Context, t *Table, y []float64, fold []int, f int, target string, cfg Config, baseline bool,
	oofPD, oofBase []float64, oofGrade []string) (FoldResult, []string, error) {
	var trainRows, testRows []int
	for i, g := range fold {
		if g == f {
			testRows = append(testRows, i)
		} else {
			trainRows = append(trainRows, i)
		}
	}
	trainT, test := t.Subset(trainRows), t.Subset(testRows)
	m, err := train(ctx, trainT, target, cfg)
	if err != nil {
		return FoldResult{}, nil, err
	}
	pts, _, err := m.pointsOf(test)
	if err != nil {
		return FoldResult{}, nil, err
	}
	yt := make([]float64, len(testRows))
	pd := make([]float64, len(testRows))
	for i, r := range testRows {
		yt[i] = y[r]
		pd[i] = m.pdOf(pts[i])
		oofPD[r] = pd[i] // each fold writes its own rows only
		oofGrade[r] = m.gradeOf(pts[i])
	}
	res := FoldResult{Fold: f + 1, TrainRows: len(trainRows), TestRows: len(testRows), Features: len(m.Features), Scorecard: summarize(yt, pd)}
	if baseline {
		ytr := make([]float64, len(trainRows))
		for i, r := range trainRows {
			ytr[i] = y[r]
		}
		cols, _, err := characteristics(trainT, target, cfg)
		if err != nil {
			return FoldResult{}, nil, err
		}
		b, err := fitOneHot(ctx, cols, ytr, cfg.L2)
		if err != nil {
			return FoldResult{}, nil, fmt.Errorf("baseline: %w", err)
		}
		bp := b.predict(test)
		for i, r := range testRows {
			oofBase[r] = bp[i]
		}
		s := summarize(yt, bp)
		res.Baseline = &s
	}
	names := make([]string, len(m.Grades))
	for i, g := range m.Grades {
		names[i] = g.Name
	}
	return res, names, nil
}

func summarize(y, pd []float64) Summary {
	a := AUC(y, pd)
	return Summary{AUC: a, Gini: 2*a - 1, KS: KS(y, pd), Brier: Brier(y, pd)}
}

func meanStd(s []Summary) (mean, std Summary) {
	n := float64(len(s))
	for _, x := range s {
		mean.AUC += x.AUC / n
		mean.KS += x.KS / n
		mean.Brier += x.Brier / n
	}
	mean.Gini = 2*mean.AUC - 1
	if len(s) < 2 {
		return mean, std
	}
	for _, x := range s {
		std.AUC += (x.AUC - mean.AUC) * (x.AUC - mean.AUC)
		std.KS += (x.KS - mean.KS) * (x.KS - mean.KS)
		std.Brier += (x.Brier - mean.Brier) * (x.Brier - mean.Brier)
	}
	std.AUC = math.Sqrt(std.AUC / (n - 1))
	std.KS = math.Sqrt(std.KS / (n - 1))
	std.Brier = math.Sqrt(std.Brier / (n - 1))
	std.Gini = 2 * std.AUC
	return mean, std
}
