package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dataport/dataport/credit"
	"github.com/dataport/dataport/credit/merchantsim"
)

// dataport credit against a running server: a merchant sends a generated
// merchant's orders with dataport ingest, asks for a decision and shows it, as
// text and as JSON; the operator decides for it with -merchant; a merchant
// without a decision, and wrong usage, fail with one line.
func TestCreditCommand(t *testing.T) {
	r, op, merchantID, merchantKey := merchantServer(t)
	merchant := merchantKey
	cli := cliAt(r.url)

	// No decision yet.
	if _, err := cli(merchant, "credit", "show"); err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "no credit decision") {
		t.Fatalf("credit show before any decision: %v", err)
	}
	if _, err := cli(merchant, "credit", "decide"); err == nil || !strings.Contains(err.Error(), "409") {
		t.Fatalf("credit decide without data: %v", err)
	}

	// A generated merchant's shops and 120 days of orders, up to a minute ago (the
	// server's clock is the real one).
	m := merchantsim.DefaultParams().WithRisk(7, 3, 0)
	m.Age = 120
	for _, sh := range m.NewShops() {
		if _, err := cli(merchant, "ingest", "connect", "-platform", sh.Platform, "-external-id", sh.ExternalID, "-name", sh.Name); err != nil {
			t.Fatal(err)
		}
	}
	orders := filepath.Join(t.TempDir(), "orders.csv")
	f, err := os.Create(orders)
	if err != nil {
		t.Fatal(err)
	}
	if err := merchantsim.WriteCSV(f, m.Orders(time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if out, err := cli(merchant, "ingest", orders); err != nil {
		t.Fatalf("ingest: %v\n%s", err, out)
	}

	out, err := cli(merchant, "credit", "decide")
	if err != nil {
		t.Fatalf("credit decide: %v", err)
	}
	for _, want := range []string{
		`(?m)^decision cdec_\S+ of merchant ` + merchantID + ` at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d, filed as #\d+$`,
		`(?m)^score \d+  grade [A-E]  PD \d+\.\d\d%  line CNY \d{1,3}(,\d{3})*\.\d\d$`,
		`(?m)^model merchant-synthetic-1 \([0-9a-f]{64}\), feature hash [0-9a-f]{64}, data through filing #\d+$`,
		`(?m)^reasons, costliest first:$`,
		`(?m)^  CHARACTERISTIC +VALUE +BIN +POINTS +LOST$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("credit decide does not print %s:\n%s", want, out)
		}
	}
	id := regexp.MustCompile(`cdec_\S+`).FindString(out)

	out, err = cli(merchant, "credit", "show", "-json")
	var d credit.Decision
	if err != nil || json.Unmarshal([]byte(out), &d) != nil || d.ID != id || len(d.Reasons) == 0 || len(d.Reasons) > 4 || d.FeatureHash == "" {
		t.Fatalf("credit show -json: %v\n%s", err, out)
	}

	// The operator, for the merchant; not for itself, which is no merchant.
	out, err = cli(op.key, "credit", "decide", "-merchant", merchantID)
	if err != nil || !strings.Contains(out, "of merchant "+merchantID) || strings.Contains(out, id) {
		t.Fatalf("credit decide -merchant: %v\n%s", err, out)
	}
	again := regexp.MustCompile(`cdec_\S+`).FindString(out)
	if out, err = cli(merchant, "credit", "show"); err != nil || !strings.HasPrefix(out, "decision "+again+" ") {
		t.Fatalf("credit show after the operator's decision: %v\n%s", err, out)
	}
	if _, err := cli(op.key, "credit", "show"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("the operator is no merchant: %v", err)
	}

	// Wrong usage: one line, a usage error.
	for _, args := range [][]string{{"credit"}, {"credit", "grade"}, {"credit", "decide", "now"}} {
		_, err := cli(merchant, args...)
		if err == nil || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%v: %v", args, err)
		}
		if len(args) < 3 && !errors.Is(err, errUsage) {
			t.Errorf("%v: %v is not a usage error", args, err)
		}
	}
}
