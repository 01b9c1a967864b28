package credit

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit/merchantsim"
	"github.com/dataport/dataport/finance"
	"github.com/dataport/dataport/scorecard"
)

// Target is the training label: 1 when the merchant defaulted within 6 months.
const Target = "default"

// ModelSpec says how the merchant model is built: from which synthetic
// population, validated on which other one, under which version.
// DefaultModelSpec is the committed model's.
type ModelSpec struct {
	Params      merchantsim.Params
	Seed        uint64 // the training population's
	Merchants   int
	HoldoutSeed uint64 // the hold-out population's: merchants the model never saw
	Holdout     int
	// AsOf is the moment the features are computed at. The story has no calendar
	// (no seasons), so any fixed moment gives the same population.
	AsOf      time.Time
	Version   string
	CreatedAt time.Time
	Config    scorecard.Config
}

// DefaultModelSpec is the specification of the committed model
// (models/merchant.json): 16,000 merchants of seed 20261125 to train, 8,000 of
// seed 20261126 to validate.
func DefaultModelSpec() ModelSpec {
	cfg := scorecard.DefaultConfig()
	cfg.Grades = len(MasterScale)
	return ModelSpec{
		Params: merchantsim.DefaultParams(), Seed: 20261125, Merchants: 16_000, HoldoutSeed: 20261126, Holdout: 8_000,
		AsOf:    time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC),
		Version: "merchant-synthetic-1", CreatedAt: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
		Config: cfg,
	}
}

// Trained is a built model with its validation.
type Trained struct {
	Model    *scorecard.Model
	Artifact []byte // the sealed model's JSON
	// Holdout validates the model on the hold-out population, with the observed
	// and predicted default rates by grade of the master scale.
	Holdout scorecard.Metrics
	// OracleAUC is the AUC of the true probabilities of default on the hold-out
	// population: the ceiling set by the story's unobserved noise.
	OracleAUC float64
}

// TrainModel builds the merchant model of spec: it generates the training
// population, computes each merchant's Inputs, trains a scorecard with
// monotonic bins, sets its grades to the master scale, validates it on the
// hold-out population, writes its model card and seals it. The result depends
// on spec alone.
func TrainModel(ctx context.Context, spec ModelSpec) (*Trained, error) {
	const op = "credit.TrainModel"
	train, err := population(ctx, spec, spec.Seed, spec.Merchants)
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	m, err := scorecard.TrainContext(ctx, train.table, Target, spec.Config)
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	m.Version, m.CreatedAt = spec.Version, spec.CreatedAt
	m.Grades = gradesInPoints(m.Scaling)

	hold, err := population(ctx, spec, spec.HoldoutSeed, spec.Holdout)
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	scores, err := m.ScoreTable(hold.table)
	if err != nil {
		return nil, dataport.Wrap(op, err)
	}
	pd := make([]float64, len(scores))
	grades := make([]string, len(scores))
	for i, s := range scores {
		pd[i], grades[i] = s.PD, string(GradeOf(s.PD))
	}
	names := make([]string, len(MasterScale))
	for i, b := range MasterScale {
		names[i] = string(b.Grade)
	}
	t := &Trained{Model: m, Holdout: scorecard.Evaluate(hold.labels, pd, grades, names),
		OracleAUC: scorecard.AUC(hold.labels, hold.truePD)}

	h := t.Holdout
	m.Card = scorecard.Card{
		IntendedUse: "Ranking e-commerce merchants by their risk of default over the next 6 months from their attested " +
			"order data (package finance's features), for the exchange's credit decisions: score, risk grade and " +
			"credit line, which financial institutions review and lend on at their own risk. A demonstration model: " +
			"it exercises the pipeline end to end until real repayment histories exist.",
		Data: fmt.Sprintf("Synthetic, no real merchant: %d merchants of merchantsim (the generative story of its package "+
			"documentation, DefaultParams), seed %d, features as of %s; %d defaulted (%.2f%%). Training CSV SHA-256 %s. "+
			"Hold-out: %d other merchants, seed %d, %d defaulted (%.2f%%).",
			train.n, spec.Seed, spec.AsOf.Format(time.RFC3339), train.bads, 100*float64(train.bads)/float64(train.n),
			train.table.SHA256, h.N, spec.HoldoutSeed, h.Bads, 100*float64(h.Bads)/float64(h.N)),
		Metrics: &scorecard.CardMetric{
			Method: fmt.Sprintf("hold-out: %d synthetic merchants of seed %d, not used in training", h.N, spec.HoldoutSeed),
			AUC:    h.AUC, Gini: h.Gini, KS: h.KS, Brier: h.Brier,
		},
		Limitations: []string{
			"Trained on synthetic merchants only: its bins, points and PDs say what the generative story says, not how real merchants repay. Retrain on real outcomes before lending real money on it.",
			fmt.Sprintf("The story's unobserved noise caps what any model can see: the true PDs themselves rank the hold-out at AUC %.3f.", t.OracleAUC),
			"Money characteristics read CNY only; sales and receivables in other currencies are ignored.",
			"The PD is the logistic link's, calibrated to the synthetic default rate; the grades are the master scale's PD bands, expressed in points.",
			"Values not seen in training take the riskiest bin of their characteristic.",
		},
	}
	if t.Artifact, err = m.Seal(); err != nil {
		return nil, dataport.Wrap(op, err)
	}
	return t, nil
}

// gradesInPoints expresses the master scale in points, for the artifact's own
// grades: PD p sits at Offset + Factor·ln((1 − p)/p) points (Siddiqi ch. 10),
// so PD below a band's top is points above that level.
func gradesInPoints(s scorecard.Scaling) []scorecard.Grade {
	var out []scorecard.Grade
	for _, b := range MasterScale {
		g := scorecard.Grade{Name: string(b.Grade)}
		if b.MaxPD > 0 {
			p := s.Offset() + s.Factor()*math.Log((1-b.MaxPD)/b.MaxPD)
			g.MinPoints = &p
		}
		out = append(out, g)
	}
	return out
}

// sample is one merchant of a population, as the training reads it: its
// inputs in the order of InputNames (NaN for a missing value), as numbers
// rather than a map, so that tens of thousands of them give the garbage
// collector little to scan.
type sample struct {
	inputs []float64
	bad    bool
	pd     float64
}

type labelled struct {
	table  *scorecard.Table
	labels []float64
	truePD []float64
	n      int
	bads   int
}

// population generates a population and reads it as a table of Inputs and the
// label. The table goes through CSV so that its SHA-256, on the model card,
// names bytes anyone can regenerate.
func population(ctx context.Context, spec ModelSpec, seed uint64, n int) (*labelled, error) {
	rows, err := merchantsim.Population(ctx, spec.Params, seed, n, spec.AsOf, func(m *merchantsim.Merchant, fs finance.FeatureSet) sample {
		s := sample{inputs: make([]float64, len(InputNames)), bad: m.Default, pd: m.PD}
		in := Inputs(fs)
		for i, name := range InputNames {
			s.inputs[i] = math.NaN()
			if v, ok := in[name].(float64); ok {
				s.inputs[i] = v
			}
		}
		return s
	})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for i, name := range InputNames {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	b.WriteString("," + Target + "\n")
	t := &labelled{n: n, labels: make([]float64, n), truePD: make([]float64, n)}
	for r, s := range rows {
		for i, v := range s.inputs {
			if i > 0 {
				b.WriteByte(',')
			}
			if !math.IsNaN(v) {
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		if s.bad {
			b.WriteString(",1\n")
			t.labels[r] = 1
			t.bads++
		} else {
			b.WriteString(",0\n")
		}
		t.truePD[r] = s.pd
	}
	if t.table, err = scorecard.ReadCSV(&b, scorecard.ReadOptions{}); err != nil {
		return nil, err
	}
	return t, nil
}
