package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/dataport/dataport"
	"github.com/dataport/dataport/credit"
)

const creditUsage = `Usage:
  dataport credit decide [-merchant ID] [-json]   make a credit decision from the merchant's attested data, and print it
  dataport credit show [-merchant ID] [-json]     print the merchant's latest decision

A decision is the score, the risk grade, the probability of default over 6 months, the credit line
and the reasons that cost the most points, with the model and the hash of its inputs; it is filed.
-merchant defaults to the key's own participant: a merchant's key, or the operator's with -merchant
(-key or DATAPORT_KEY). -json prints the decision as the API answers it.
`

// creditCmd asks the exchange for a merchant's credit decision, or shows the
// latest one.
func creditCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "decide" && args[0] != "show") {
		fmt.Fprint(stderr, creditUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help") {
			return flag.ErrHelp
		}
		return fmt.Errorf("credit takes decide or show: %w", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("credit "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, creditUsage); fs.PrintDefaults() }
	a := clientFlags(fs, getenv)
	merchant := fs.String("merchant", "", "the merchant's participant id (default: the key's own)")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	id, err := a.merchant(ctx, *merchant)
	if err != nil {
		return err
	}
	method, path := "POST", "/api/v1/merchants/"+url.PathEscape(id)+"/decisions"
	if sub == "show" {
		method, path = "GET", path+"/latest"
	}
	var raw json.RawMessage
	if _, err := a.call(ctx, method, path, nil, &raw); err != nil {
		return err
	}
	if *asJSON {
		fmt.Fprintf(stdout, "%s\n", raw)
		return nil
	}
	var d credit.Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		return fmt.Errorf("the decision is not what the exchange answers: %w", err)
	}
	printDecision(stdout, d)
	return nil
}

func printDecision(w io.Writer, d credit.Decision) {
	fmt.Fprintf(w, "decision %s of merchant %s at %s, filed as #%d\n", d.ID, d.MerchantID, d.DecidedAt.In(dataport.China).Format("2006-01-02 15:04:05 -07:00"), d.FilingSeq)
	fmt.Fprintf(w, "score %d  grade %s  PD %s%%  line %s %s\n", d.Score, d.Grade, strconv.FormatFloat(d.PD*100, 'f', 2, 64),
		d.Line.Currency, minorUnits(d.Line.Amount))
	fmt.Fprintf(w, "model %s (%s), feature hash %s, data through filing #%d\n", d.Model.Version, d.Model.ID, d.FeatureHash, d.DataThrough)
	if len(d.Reasons) == 0 {
		fmt.Fprintln(w, "no reasons: every characteristic scored its best")
		return
	}
	fmt.Fprintln(w, "reasons, costliest first:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  CHARACTERISTIC\tVALUE\tBIN\tPOINTS\tLOST")
	for _, r := range d.Reasons {
		v := "missing"
		if r.Value != nil {
			v = fmt.Sprint(r.Value)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%.2f\t%.2f\n", r.Characteristic, v, r.Bin, r.Points, r.PointsLost)
	}
	tw.Flush()
}

// minorUnits writes an amount of a currency of two minor digits (the line is
// CNY) with its thousands separated: 12000000 → 120,000.00.
func minorUnits(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	whole := strconv.FormatInt(n/100, 10)
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return fmt.Sprintf("%s%s.%02d", sign, b.String(), n%100)
}
