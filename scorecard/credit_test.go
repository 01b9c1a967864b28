package scorecard

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/dataport/dataport/internal/testenv"
)

// creditPath is the shared Taiwan credit-card default data (Yeh & Lien, 2009):
// 30,000 clients, an ID column, X1..X23 and Y = 1 when the client defaulted the
// next month (22.1%).
const creditPath = "../../shared/data/credit/taiwan-default-of-credit-card-clients.csv"

// creditCategorical are the code columns: sex, education, marriage and the six
// monthly repayment statuses (−2 no consumption, −1 paid in full, 0 revolving
// credit, 1..8 months late), whose bad rates do not move one way with the code.
var creditCategorical = []string{"X2", "X3", "X4", "X6", "X7", "X8", "X9", "X10", "X11"}

func readCredit(tb testing.TB) *Table {
	tb.Helper()
	f, err := os.Open(creditPath)
	if os.IsNotExist(err) {
		testenv.Missing(tb, "the shared credit data set is not at %s (../shared beside the project)", creditPath)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	t, err := ReadCSV(f, ReadOptions{Categorical: creditCategorical})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// TestCreditCrossValidation is the acceptance check: on the credit data, the
// 10-fold cross-validated AUC of the default scorecard is no worse than that of a
// plain L2 logistic regression on one-hot inputs, fitted on the same folds, minus
// 0.01. (For reference, scikit-learn's one-hot L2 logistic regression reaches 0.769
// on this data, and histogram gradient boosting 0.783.)
func TestCreditCrossValidation(t *testing.T) {
	tab := readCredit(t)
	cfg := DefaultConfig()
	start := time.Now()
	m, err := Train(tab, "Y", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("training on %d rows: %v, %d characteristics kept", tab.Len(), time.Since(start).Round(time.Millisecond), len(m.Features))
	start = time.Now()
	rep, err := CrossValidate(context.Background(), tab, "Y", cfg, CVOptions{Folds: 10, Seed: 1, Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10-fold cross-validation of both: %v", time.Since(start).Round(time.Millisecond))
	s, b := rep.Mean, rep.Baseline.Mean
	t.Logf("scorecard: AUC %.4f ± %.4f, Gini %.4f, KS %.4f, Brier %.4f", s.AUC, rep.Std.AUC, s.Gini, s.KS, s.Brier)
	t.Logf("baseline:  AUC %.4f ± %.4f, Gini %.4f, KS %.4f, Brier %.4f (%d columns)", b.AUC, rep.Baseline.Std.AUC, b.Gini, b.KS, b.Brier, rep.Baseline.Columns)
	if s.AUC < b.AUC-0.01 {
		t.Errorf("scorecard AUC %.4f is more than 0.01 below the baseline's %.4f", s.AUC, b.AUC)
	}
	for _, f := range rep.PerFold {
		if math.Abs(f.Scorecard.Gini-(2*f.Scorecard.AUC-1)) > 1e-12 || !(f.Scorecard.KS > 0.2 && f.Scorecard.KS < f.Scorecard.Gini+1e-9) {
			t.Errorf("fold %d: inconsistent metrics %+v", f.Fold, f.Scorecard)
		}
	}
	if math.Abs(s.Gini-(2*s.AUC-1)) > 1e-12 || s.AUC < 0.74 {
		t.Errorf("mean metrics %+v", s)
	}
	if g := rep.Pooled.Gains[0]; g.Lift < 2 {
		t.Errorf("the riskiest tenth has lift %.2f", g.Lift)
	}
	for _, g := range rep.Pooled.Calibration {
		t.Logf("grade %s: %5d rows, predicted %.3f, observed %.3f", g.Grade, g.Rows, g.PredictedPD, g.ObservedPD)
	}
}

func BenchmarkTrain(b *testing.B) {
	tab := readCredit(b)
	cfg := DefaultConfig()
	for b.Loop() {
		if _, err := Train(tab, "Y", cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScore(b *testing.B) {
	tab := readCredit(b)
	m, err := Train(tab, "Y", DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	row := map[string]any{}
	for _, c := range tab.Columns {
		if c.Kind == Categorical {
			row[c.Name] = c.Levels[int(c.Values[0])]
		} else {
			row[c.Name] = c.Values[0]
		}
	}
	for b.Loop() {
		if _, err := m.Score(row); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCrossValidate(b *testing.B) {
	tab := readCredit(b)
	cfg := DefaultConfig()
	for b.Loop() {
		if _, err := CrossValidate(context.Background(), tab, "Y", cfg, CVOptions{Folds: 10, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
