package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dataport/dataport/internal/testenv"
	"github.com/dataport/dataport/scorecard"
)

// creditData is the shared Taiwan credit-card default data set.
const creditData = "../../../shared/data/credit/taiwan-default-of-credit-card-clients.csv"

func TestScorecardTrainCredit(t *testing.T) {
	if _, err := os.Stat(creditData); err != nil {
		testenv.Missing(t, "the shared credit data set is not at %s (../shared beside the project)", creditData)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "model.json")
	var stdout, stderr bytes.Buffer
	err := scorecardCmd(context.Background(), []string{"train",
		"--data", creditData, "--target", "Y", "--bad", "1", "--cv", "10", "--baseline",
		"--categorical", "X2,X3,X4,X6,X7,X8,X9,X10,X11",
		"--created-at", "2026-01-02T03:04:05Z", "--out", model,
	}, env(nil), &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var out struct {
		AUC, Gini, KS, Brier float64
		Baseline             *struct{ AUC float64 }
		Selected             []string
		CV                   struct {
			Folds   int
			PerFold []json.RawMessage `json:"per_fold"`
		}
		Model struct{ ID, Path string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		t.Fatalf("the output is not JSON: %v\n%s", err, stdout.String())
	}
	t.Logf("10-fold CV: scorecard AUC %.4f, Gini %.4f, KS %.4f, Brier %.4f; baseline AUC %.4f; %d characteristics",
		out.AUC, out.Gini, out.KS, out.Brier, out.Baseline.AUC, len(out.Selected))
	if out.CV.Folds != 10 || len(out.CV.PerFold) != 10 || out.AUC < 0.74 || out.KS < 0.3 || out.Baseline == nil {
		t.Fatalf("output %+v", out)
	}
	if d := out.Gini - (2*out.AUC - 1); d > 1e-9 || d < -1e-9 {
		t.Fatalf("Gini %v, AUC %v", out.Gini, out.AUC)
	}
	if out.AUC < out.Baseline.AUC-0.01 {
		t.Fatalf("scorecard AUC %.4f is more than 0.01 below the baseline's %.4f", out.AUC, out.Baseline.AUC)
	}
	f, err := os.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	m, err := scorecard.Load(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if m.ID != out.Model.ID || m.Card.Metrics == nil || m.Card.Metrics.AUC != out.AUC || m.CreatedAt.Year() != 2026 {
		t.Fatalf("model %s, card %+v", m.ID, m.Card.Metrics)
	}

	// The same data against itself is stable.
	stdout.Reset()
	if err := scorecardCmd(context.Background(), []string{"psi", "--model", model, "--expected", creditData, "--actual", creditData},
		env(nil), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var psi scorecard.MonitorReport
	if err := json.Unmarshal(stdout.Bytes(), &psi); err != nil {
		t.Fatal(err)
	}
	if psi.Score.Index != 0 || len(psi.Features) != len(out.Selected) || psi.Model != m.ID {
		t.Fatalf("psi %+v", psi)
	}
}

func TestScorecardBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oneClass := write("one.csv", "x,y\n1,0\n2,0\n3,0\n")
	empty := write("empty.csv", "")
	ragged := write("ragged.csv", "x,y\n1,0\n2\n")
	cases := []struct {
		args  []string
		want  string
		usage bool
	}{
		{args: []string{"train", "--data", oneClass, "--target", "y"}, want: "one class only"},
		{args: []string{"train", "--data", empty, "--target", "y"}, want: "the CSV is empty"},
		{args: []string{"train", "--data", ragged, "--target", "y"}, want: "line 3: 1 fields"},
		{args: []string{"train", "--data", oneClass, "--target", "z"}, want: `no column "z"`},
		{args: []string{"train", "--data", oneClass, "--target", "y", "--bad", "yes"}, want: `"yes" is not a number`},
		{args: []string{"train", "--data", filepath.Join(dir, "absent.csv"), "--target", "y"}, want: "no such file"},
		{args: []string{"train", "--data", oneClass}, want: "needs -data and -target", usage: true},
		{args: []string{"train", "--data", oneClass, "--target", "y", "--cv", "1"}, want: "-cv is 0", usage: true},
		{args: []string{"fly"}, want: "unknown scorecard subcommand", usage: true},
		{args: nil, want: "needs a subcommand", usage: true},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := scorecardCmd(context.Background(), c.args, env(nil), &stdout, &stderr)
		if err == nil {
			t.Fatalf("%v: no error", c.args)
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("%v: error %q, want one line saying %q", c.args, err, c.want)
		}
		if errors.Is(err, errUsage) != c.usage {
			t.Fatalf("%v: usage error %v, want %v", c.args, errors.Is(err, errUsage), c.usage)
		}
		if stdout.Len() != 0 {
			t.Fatalf("%v: printed %q on failure", c.args, stdout.String())
		}
	}
}
