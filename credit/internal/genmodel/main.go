// Command genmodel trains the merchant model of credit.DefaultModelSpec on the
// synthetic population and writes the sealed artifact, then prints its
// hold-out validation. Run it through go generate in package credit.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/dataport/dataport/credit"
)

func main() {
	out := flag.String("out", "models/merchant.json", "where to write the sealed model")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "genmodel:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	t, err := credit.TrainModel(context.Background(), credit.DefaultModelSpec())
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, t.Artifact, 0o644); err != nil {
		return err
	}
	h := t.Holdout
	fmt.Printf("%s: model %s (%s), %d characteristics\n", out, t.Model.ID, t.Model.Version, len(t.Model.Features))
	fmt.Printf("hold-out: %d merchants, %d defaults; AUC %.4f, Gini %.4f, KS %.4f, Brier %.4f (true PDs: AUC %.4f)\n",
		h.N, h.Bads, h.AUC, h.Gini, h.KS, h.Brier, t.OracleAUC)
	for _, g := range h.Calibration {
		fmt.Printf("  grade %s: %5d merchants (%4.1f%%), predicted PD %.4f, observed %.4f\n",
			g.Grade, g.Rows, 100*float64(g.Rows)/float64(h.N), g.PredictedPD, g.ObservedPD)
	}
	return nil
}
