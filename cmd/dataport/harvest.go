package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/dataport/dataport/harvest"
)

const harvestUsage = `Usage:
  dataport harvest SOURCE      harvest a source now, with progress, and print the run's report
  dataport harvest -list       the sources and their schedules

Sources are registered with POST /api/v1/harvest/sources (the operator's key: -key or DATAPORT_KEY).
`

// harvestCmd runs a harvest on the server and reports it: counts, then each
// record that failed with its reason.
func harvestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("harvest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, harvestUsage); fs.PrintDefaults() }
	a := clientFlags(fs, getenv)
	list := fs.Bool("list", false, "list the sources")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list {
		var out struct {
			Items []harvest.Source `json:"items"`
		}
		if _, err := a.call(ctx, "GET", "/api/v1/harvest/sources", nil, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tKIND\tLOCATION\tEVERY")
		for _, s := range out.Items {
			every := "on demand"
			if s.Every > 0 {
				every = s.Every.String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name, s.Kind, s.Location, every)
		}
		return tw.Flush()
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("harvest takes one SOURCE id: %w", errUsage)
	}
	res, err := a.request(ctx, "POST", "/api/v1/harvest/sources/"+url.PathEscape(fs.Arg(0))+"/runs", nil, 0)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var rep *harvest.Report
	var failed string
	err = progressLines(res.Body, func(line []byte) (bool, error) {
		var l struct {
			Done   int             `json:"done"`
			Ref    string          `json:"ref"`
			Report *harvest.Report `json:"report"`
			Error  string          `json:"error"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			return false, err
		}
		if l.Report != nil {
			rep, failed = l.Report, l.Error
			return true, nil
		}
		fmt.Fprintf(stderr, "\r%d records … %s\x1b[K", l.Done, l.Ref)
		return false, nil
	})
	fmt.Fprint(stderr, "\r\x1b[K")
	if err != nil {
		return fmt.Errorf("the harvest's report broke off: %w", err)
	}
	if rep == nil {
		return fmt.Errorf("the harvest ended without a report")
	}
	fmt.Fprintf(stdout, "run %s: %s in %.2fs\n", rep.RunID, rep.Status, rep.Duration)
	fmt.Fprintf(stdout, "records %d: %d added, %d changed, %d unchanged, %d removed, %d failed; %d listed, %d queued for review\n",
		rep.Records, rep.Added, rep.Changed, rep.Unchanged, rep.Removed, rep.Failed, rep.Listed, rep.Queued)
	fmt.Fprintf(stdout, "resources %d, S3 buckets %d, mirror upstreams registered %d\n", rep.Resources, rep.S3Buckets, rep.Upstreams)
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "  failed %s: %s\n", p.Ref, p.Reason)
	}
	for _, n := range rep.Notices {
		fmt.Fprintf(stdout, "  note %s: %s\n", n.ID, n.Reason)
	}
	if rep.RemovalsSkipped {
		fmt.Fprintln(stdout, "  part of the source could not be read: nothing was delisted")
	}
	if failed != "" || rep.Status == "failed" {
		return fmt.Errorf("the harvest failed: %s%s", rep.Error, failed)
	}
	return nil
}
