package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dataport/dataport/scorecard"
)

const scorecardUsage = `Usage:
  dataport scorecard train -data FILE.csv -target COLUMN [flags]
      bin, select and fit a credit scorecard; cross-validate it and print the metrics as JSON;
      with -out, write the model: a versioned JSON artifact whose id is its content's SHA-256
  dataport scorecard psi -model MODEL.json -expected A.csv -actual B.csv
      the population stability of the scores and the stability of each characteristic

Run "dataport scorecard train -h" or "dataport scorecard psi -h" for the flags.
`

// scorecardCmd runs the scorecard subcommands.
func scorecardCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, scorecardUsage)
		return fmt.Errorf("scorecard needs a subcommand, train or psi: %w", errUsage)
	}
	switch args[0] {
	case "train":
		return scorecardTrain(ctx, args[1:], stdout, stderr)
	case "psi":
		return scorecardPSI(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, scorecardUsage)
		return nil
	default:
		fmt.Fprint(stderr, scorecardUsage)
		return fmt.Errorf("unknown scorecard subcommand %q: %w", args[0], errUsage)
	}
}

// listFlag is a comma-separated list of names.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// specialFlag collects COLUMN=V1,V2 pairs; it may be repeated.
type specialFlag map[string][]float64

func (s specialFlag) String() string { return "" }
func (s specialFlag) Set(v string) error {
	col, vals, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(col) == "" {
		return fmt.Errorf("want COLUMN=V1,V2, not %q", v)
	}
	for _, x := range strings.Split(vals, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return fmt.Errorf("special value %q of %s is not a number", x, col)
		}
		s[strings.TrimSpace(col)] = append(s[strings.TrimSpace(col)], f)
	}
	return nil
}

func readTable(path string, categorical []string) (*scorecard.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return scorecard.ReadCSV(f, scorecard.ReadOptions{Categorical: categorical})
}

// trainOutput is what scorecard train prints.
type trainOutput struct {
	Data struct {
		File    string  `json:"file"`
		SHA256  string  `json:"sha256"`
		Rows    int     `json:"rows"`
		Bads    int     `json:"bads"`
		BadRate float64 `json:"bad_rate"`
	} `json:"data"`
	Target     string `json:"target"`
	Bad        string `json:"bad"`
	Validation string `json:"validation"`
	// The headline metrics: cross-validated means, or in-sample without -cv.
	AUC      float64               `json:"auc"`
	Gini     float64               `json:"gini"`
	KS       float64               `json:"ks"`
	Brier    float64               `json:"brier"`
	CV       *scorecard.CVReport   `json:"cv,omitempty"`
	InSample *scorecard.Metrics    `json:"in_sample,omitempty"`
	Baseline *scorecard.Summary    `json:"baseline,omitempty"` // the -baseline regression's cross-validated means
	Features []scorecard.Candidate `json:"features"`
	Selected []string              `json:"selected"`
	Model    *struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Path    string `json:"path"`
	} `json:"model,omitempty"`
	TrainSeconds float64 `json:"train_seconds"`
	CVSeconds    float64 `json:"cv_seconds,omitempty"`
}

func scorecardTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scorecard train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, scorecardUsage, "\nFlags of train:\n"); fs.PrintDefaults() }
	def := scorecard.DefaultConfig()
	data := fs.String("data", "", "the labelled CSV `file`, with a header row")
	target := fs.String("target", "", "the label `column`")
	bad := fs.String("bad", "", "the label `value` of a bad row (default 1 for a 0/1 label)")
	folds := fs.Int("cv", 10, "`k`-fold stratified cross-validation; 0 reports in-sample metrics only")
	seed := fs.Uint64("seed", 1, "the seed of the folds")
	baseline := fs.Bool("baseline", false, "also cross-validate a plain L2 logistic regression on one-hot inputs, same folds")
	out := fs.String("out", "", "write the sealed model to this `file`")
	var categorical, exclude listFlag
	fs.Var(&categorical, "categorical", "`columns` to read as categories though they hold numbers (comma-separated)")
	fs.Var(&exclude, "exclude", "`columns` that are not characteristics (comma-separated; a column called ID is left out anyway)")
	special := specialFlag{}
	fs.Var(special, "special", "special values of a numeric column, with bins of their own, as `COLUMN=V1,V2` (repeatable)")
	fine := fs.Int("fine-bins", def.FineBins, "quantile fine classes per numeric column")
	minBin := fs.Float64("min-bin", def.MinBinShare, "the smallest share of the rows a bin may hold")
	trend := fs.String("trend", string(def.Trend), "the monotonic trend of numeric columns: auto, ascending, descending or none")
	minIV := fs.Float64("min-iv", def.MinIV, "drop characteristics with a lower information value (negative keeps all)")
	maxCorr := fs.Float64("max-corr", def.MaxCorr, "drop the weaker of two characteristics whose WoE correlate above this (1 keeps all)")
	l2 := fs.Float64("l2", def.L2, "the L2 penalty λ of the logistic regression")
	keepWrong := fs.Bool("keep-wrong-sign", false, "keep characteristics whose coefficient has the wrong sign")
	basePoints := fs.Float64("base-points", def.Scaling.BasePoints, "the score at the base odds")
	baseOdds := fs.Float64("base-odds", def.Scaling.BaseOdds, "the good:bad odds at the base points")
	pdo := fs.Float64("pdo", def.Scaling.PDO, "points to double the odds")
	grades := fs.Int("grades", def.Grades, "risk grades, cut at equal shares of the training scores")
	version := fs.String("version", "1.0.0", "the model's `version`")
	createdAt := fs.String("created-at", "", "the model's creation `time`, RFC 3339 (default now)")
	intended := fs.String("intended-use", "", "the model card's intended use (default: a generic statement)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *target == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("scorecard train needs -data and -target, and no other arguments: %w", errUsage)
	}
	if *folds == 1 || *folds < 0 {
		return fmt.Errorf("-cv is 0 (no cross-validation) or at least 2, not %d: %w", *folds, errUsage)
	}
	created := time.Now().UTC().Truncate(time.Second)
	if *createdAt != "" {
		t, err := time.Parse(time.RFC3339, *createdAt)
		if err != nil {
			return fmt.Errorf("-created-at %q is not an RFC 3339 time: %w", *createdAt, errUsage)
		}
		created = t
	}
	cfg := def
	cfg.Bad, cfg.Exclude, cfg.FineBins, cfg.MinBinShare = *bad, exclude, *fine, *minBin
	cfg.Trend, cfg.MinIV, cfg.MaxCorr, cfg.L2, cfg.KeepWrongSign = scorecard.Trend(*trend), *minIV, *maxCorr, *l2, *keepWrong
	cfg.Scaling = scorecard.Scaling{BasePoints: *basePoints, BaseOdds: *baseOdds, PDO: *pdo}
	cfg.Grades = *grades
	if len(special) > 0 {
		cfg.Special = special
	}

	tab, err := readTable(*data, categorical)
	if err != nil {
		return err
	}
	start := time.Now()
	m, err := scorecard.TrainContext(ctx, tab, *target, cfg)
	if err != nil {
		return err
	}
	var o trainOutput
	o.TrainSeconds = time.Since(start).Seconds()
	o.Data.File, o.Data.SHA256, o.Data.Rows, o.Data.Bads, o.Data.BadRate = *data, tab.SHA256, m.Data.Rows, m.Data.Bads, m.Data.BadRate
	o.Target, o.Bad, o.Features = *target, m.Bad, m.Candidates
	for _, f := range m.Features {
		o.Selected = append(o.Selected, f.Name)
	}
	if *folds >= 2 {
		start = time.Now()
		rep, err := scorecard.CrossValidate(ctx, tab, *target, cfg, scorecard.CVOptions{Folds: *folds, Seed: *seed, Baseline: *baseline})
		if err != nil {
			return err
		}
		o.CVSeconds = time.Since(start).Seconds()
		o.CV = rep
		if rep.Baseline != nil {
			o.Baseline = &rep.Baseline.Mean
		}
		o.Validation = fmt.Sprintf("%d-fold stratified cross-validation (seed %d): means over the folds", *folds, *seed)
		o.AUC, o.Gini, o.KS, o.Brier = rep.Mean.AUC, rep.Mean.Gini, rep.Mean.KS, rep.Mean.Brier
		m.Card.Metrics = &scorecard.CardMetric{Method: o.Validation, AUC: o.AUC, Gini: o.Gini, KS: o.KS, Brier: o.Brier}
		if rep.Baseline != nil {
			m.Card.Metrics.BaselineAUC = &rep.Baseline.Mean.AUC
		}
	} else {
		scores, err := m.ScoreTable(tab)
		if err != nil {
			return err
		}
		y, _ := tab.Labels(*target, cfg.Bad)
		pd := make([]float64, len(scores))
		gr := make([]string, len(scores))
		for i, s := range scores {
			pd[i], gr[i] = s.PD, s.Grade
		}
		names := make([]string, len(m.Grades))
		for i, g := range m.Grades {
			names[i] = g.Name
		}
		met := scorecard.Evaluate(y, pd, gr, names)
		o.InSample = &met
		o.Validation = "in-sample: the training data itself, an optimistic estimate"
		o.AUC, o.Gini, o.KS, o.Brier = met.AUC, met.Gini, met.KS, met.Brier
		m.Card.Metrics = &scorecard.CardMetric{Method: o.Validation, AUC: o.AUC, Gini: o.Gini, KS: o.KS, Brier: o.Brier}
	}
	if *out != "" {
		m.Version, m.CreatedAt = *version, created
		if *intended != "" {
			m.Card.IntendedUse = *intended
		}
		raw, err := m.Seal()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(*out, raw); err != nil {
			return err
		}
		o.Model = &struct {
			ID      string `json:"id"`
			Version string `json:"version"`
			Path    string `json:"path"`
		}{m.ID, m.Version, *out}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(o)
}

// writeFileAtomic writes through a temporary file and a rename, so a reader never
// sees half a model.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".scorecard-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func scorecardPSI(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("scorecard psi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, scorecardUsage, "\nFlags of psi:\n"); fs.PrintDefaults() }
	model := fs.String("model", "", "the sealed model `file`")
	expected := fs.String("expected", "", "the reference sample, a CSV `file` (usually the development sample)")
	actual := fs.String("actual", "", "the recent sample, a CSV `file`")
	var categorical listFlag
	fs.Var(&categorical, "categorical", "`columns` to read as categories though they hold numbers (comma-separated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || *expected == "" || *actual == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("scorecard psi needs -model, -expected and -actual: %w", errUsage)
	}
	f, err := os.Open(*model)
	if err != nil {
		return err
	}
	m, err := scorecard.Load(f)
	f.Close()
	if err != nil {
		return err
	}
	exp, err := readTable(*expected, categorical)
	if err != nil {
		return fmt.Errorf("%s: %w", *expected, err)
	}
	act, err := readTable(*actual, categorical)
	if err != nil {
		return fmt.Errorf("%s: %w", *actual, err)
	}
	rep, err := m.Monitor(exp, act)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
