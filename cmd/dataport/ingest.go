package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/dataport/dataport/finance"
)

const ingestUsage = `Usage:
  dataport ingest [-merchant ID] [-format csv|jsonl] [-json] FILE|-    send a batch of order data and print its report
  dataport ingest [-merchant ID] -stream [-json] FILE|-                send JSON lines as a live stream, printing each
                                                                       chunk's report as it is applied
  dataport ingest shops [-merchant ID]                                 the merchant's shops
  dataport ingest connect [-merchant ID] -platform P -external-id X -name N
                                                                       connect a shop
  dataport ingest batches [-merchant ID] [-limit N]                    the merchant's attested batches, newest first

The format comes from the file's extension (.csv; .jsonl or .ndjson) unless -format says it; - reads
standard input. -merchant defaults to the key's own participant: a merchant's key, or the operator's
with -merchant (-key or DATAPORT_KEY). The fields of order data are in the finance package's
documentation. A batch with rejected rows keeps its good ones and exits 1, listing the bad ones.
`

// ingestCmd sends a merchant's order data to the exchange, which checks each row,
// keeps the good ones and files the SHA-256 of the bytes it received; and manages
// the merchant's shops, whose orders the data holds.
func ingestCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "shops", "connect", "batches":
			sub, args = args[0], args[1:]
		}
	}
	fs := flag.NewFlagSet(strings.TrimSpace("ingest "+sub), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ingestUsage); fs.PrintDefaults() }
	a := clientFlags(fs, getenv)
	merchant := fs.String("merchant", "", "the merchant's participant id (default: the key's own)")
	switch sub {
	case "shops":
		if err := parse(fs, args); err != nil {
			return err
		}
		return a.shops(ctx, *merchant, stdout)
	case "connect":
		var n finance.NewShop
		fs.StringVar(&n.Platform, "platform", "", "the e-commerce platform, lower case: taobao, jd, pinduoduo, amazon …")
		fs.StringVar(&n.ExternalID, "external-id", "", "the shop's id on its platform")
		fs.StringVar(&n.Name, "name", "", "the shop's name")
		if err := parse(fs, args); err != nil {
			return err
		}
		if n.Platform == "" || n.ExternalID == "" || n.Name == "" {
			fs.Usage()
			return fmt.Errorf("ingest connect needs -platform, -external-id and -name: %w", errUsage)
		}
		id, err := a.merchant(ctx, *merchant)
		if err != nil {
			return err
		}
		var sh finance.Shop
		if _, err := a.call(ctx, "POST", "/api/v1/merchants/"+url.PathEscape(id)+"/shops", n, &sh); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "connected %s: %s:%s %s, merchant %s\n", sh.ID, sh.Platform, sh.ExternalID, sh.Name, sh.MerchantID)
		return nil
	case "batches":
		limit := fs.Int("limit", 20, "how many, newest first (at most 1,000)")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *limit < 1 || *limit > 1000 {
			return fmt.Errorf("-limit is from 1 to 1000: %w", errUsage)
		}
		return a.batches(ctx, *merchant, *limit, stdout)
	}

	format := fs.String("format", "", "csv or jsonl (default: from the file's extension)")
	stream := fs.Bool("stream", false, "send JSON lines as a live stream, for as long as the input lasts")
	asJSON := fs.Bool("json", false, "print the reports as JSON (one line each)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("ingest takes one FILE, or - for standard input: %w", errUsage)
	}
	name := fs.Arg(0)
	f, err := ingestFormat(name, *format, *stream)
	if err != nil {
		return err
	}
	id, err := a.merchant(ctx, *merchant)
	if err != nil {
		return err
	}
	in, size := io.Reader(os.Stdin), int64(-1)
	if name != "-" {
		file, err := os.Open(name)
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
		if info, err := file.Stat(); err == nil && info.Mode().IsRegular() && !*stream {
			size = info.Size()
		}
	}
	if *stream {
		return a.streamOrders(ctx, id, in, *asJSON, stdout)
	}
	return a.ingestBatch(ctx, id, f, in, size, *asJSON, stdout)
}

// ingestFormat is the format of the data in name: -format's, else its extension's.
func ingestFormat(name, format string, stream bool) (string, error) {
	if format != "" && format != "csv" && format != "jsonl" {
		return "", fmt.Errorf("-format is csv or jsonl, not %q: %w", format, errUsage)
	}
	if format == "" {
		switch strings.ToLower(filepath.Ext(name)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson":
			format = "jsonl"
		}
	}
	switch {
	case stream && format == "csv":
		return "", fmt.Errorf("a live stream is JSON lines, not CSV: %w", errUsage)
	case stream:
		return "jsonl", nil
	case format == "" && name == "-":
		return "", fmt.Errorf("say the format of standard input with -format csv or -format jsonl: %w", errUsage)
	case format == "":
		return "", fmt.Errorf("%s: say its format with -format csv or -format jsonl (the extension does not: .csv, .jsonl, .ndjson): %w", name, errUsage)
	}
	return format, nil
}

// merchant is the merchant's id: the one given, else the key's own participant.
func (a *exchangeClient) merchant(ctx context.Context, id string) (string, error) {
	if id != "" {
		return id, nil
	}
	var me struct {
		Participant struct {
			ID string `json:"id"`
		} `json:"participant"`
	}
	if _, err := a.call(ctx, "GET", "/api/v1/me", nil, &me); err != nil {
		return "", err
	}
	return me.Participant.ID, nil
}

func (a *exchangeClient) shops(ctx context.Context, merchant string, stdout io.Writer) error {
	id, err := a.merchant(ctx, merchant)
	if err != nil {
		return err
	}
	var out struct {
		Items []finance.Shop `json:"items"`
	}
	if _, err := a.call(ctx, "GET", "/api/v1/merchants/"+url.PathEscape(id)+"/shops", nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPLATFORM\tEXTERNAL ID\tNAME\tCONNECTED")
	for _, s := range out.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Platform, s.ExternalID, s.Name, s.ConnectedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

func (a *exchangeClient) batches(ctx context.Context, merchant string, limit int, stdout io.Writer) error {
	id, err := a.merchant(ctx, merchant)
	if err != nil {
		return err
	}
	var out struct {
		Items []finance.Batch `json:"items"`
	}
	if _, err := a.call(ctx, "GET", fmt.Sprintf("/api/v1/merchants/%s/batches?limit=%d", url.PathEscape(id), limit), nil, &out); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tROWS\tACCEPTED\tREJECTED\tFILING\tSHA256\tRECEIVED")
	for _, b := range out.Items {
		kind := b.Kind + " " + b.Format
		if b.Kind == "stream" {
			kind = fmt.Sprintf("stream #%d", b.Seq)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", b.ID, kind, b.Rows, b.Accepted, b.Rejected, b.FilingSeq, b.SHA256, b.CreatedAt.Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

// ingestBatch sends a batch and prints its report.
func (a *exchangeClient) ingestBatch(ctx context.Context, merchant, format string, in io.Reader, size int64, asJSON bool, stdout io.Writer) error {
	ctype := map[string]string{"csv": "text/csv", "jsonl": "application/x-ndjson"}[format]
	res, err := a.request(ctx, "POST", "/api/v1/merchants/"+url.PathEscape(merchant)+"/batches?format="+format, in, size, "Content-Type", ctype)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("the batch's report broke off: %w", err)
	}
	var rep finance.BatchReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("the batch's report is not JSON: %w", err)
	}
	if asJSON {
		fmt.Fprintf(stdout, "%s\n", strings.TrimSpace(string(raw)))
	} else {
		fmt.Fprintf(stdout, "batch %s attested in filing %d: %d bytes, sha256 %s\n", rep.ID, rep.FilingSeq, rep.Bytes, rep.SHA256)
		fmt.Fprintf(stdout, "%s\n", rowCounts(rep.Rows, rep.Accepted, rep.Inserted, rep.Updated, rep.Duplicates, rep.Stale, rep.Rejected))
		printProblems(stdout, rep.Problems)
	}
	return rejectedRows(rep.Rejected, rep.Rows)
}

// streamOrders sends in as a live stream and prints each chunk's report as the
// exchange applies it, while the stream is still being sent, then the stream's.
func (a *exchangeClient) streamOrders(ctx context.Context, merchant string, in io.Reader, asJSON bool, stdout io.Writer) error {
	res, err := a.request(ctx, "POST", "/api/v1/merchants/"+url.PathEscape(merchant)+"/stream", in, -1, "Content-Type", "application/x-ndjson")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var (
		rep    *finance.StreamReport
		failed string
	)
	err = progressLines(res.Body, func(line []byte) (bool, error) {
		var l struct {
			Chunk  *finance.BatchReport  `json:"chunk"`
			Report *finance.StreamReport `json:"report"`
			Error  string                `json:"error"`
		}
		if err := json.Unmarshal(line, &l); err != nil {
			return false, err
		}
		if asJSON {
			fmt.Fprintf(stdout, "%s\n", line)
		}
		switch {
		case l.Report != nil:
			rep, failed = l.Report, l.Error
			if !asJSON {
				fmt.Fprintf(stdout, "stream %s: %d chunks, %s; %d bytes, sha256 %s\n", rep.StreamID, rep.Chunks,
					rowCounts(rep.Rows, rep.Accepted, rep.Inserted, rep.Updated, rep.Duplicates, rep.Stale, rep.Rejected), rep.Bytes, rep.SHA256)
			}
			return true, nil
		case l.Chunk != nil && !asJSON:
			c := l.Chunk
			fmt.Fprintf(stdout, "chunk %d attested in filing %d: %s\n", c.Seq, c.FilingSeq,
				rowCounts(c.Rows, c.Accepted, c.Inserted, c.Updated, c.Duplicates, c.Stale, c.Rejected))
			printProblems(stdout, c.Problems)
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the stream broke off; the lines after its last applied chunk were dropped, send them again: %w", err)
	}
	if rep == nil {
		return fmt.Errorf("the stream ended without a report; the lines after its last applied chunk were dropped, send them again")
	}
	if failed != "" {
		return fmt.Errorf("the stream ended: %s", failed)
	}
	return rejectedRows(rep.Rejected, rep.Rows)
}

func rowCounts(rows, accepted, inserted, updated, duplicates, stale, rejected int64) string {
	noun := "rows"
	if rows == 1 {
		noun = "row"
	}
	return fmt.Sprintf("%d %s: %d accepted (%d new, %d updated, %d duplicates, %d stale), %d rejected",
		rows, noun, accepted, inserted, updated, duplicates, stale, rejected)
}

func printProblems(w io.Writer, ps []finance.RowProblem) {
	for _, p := range ps {
		where := fmt.Sprintf("line %d", p.Line)
		if p.Field != "" {
			where += ", " + p.Field
		}
		if p.OrderID != "" {
			where += " (order " + p.OrderID + ")"
		}
		fmt.Fprintf(w, "  %s: %s\n", where, p.Reason)
	}
}

// rejectedRows fails the command when rows were rejected: the good rows are kept,
// but a script sending the data must notice the others were not.
func rejectedRows(rejected, rows int64) error {
	if rejected > 0 {
		return fmt.Errorf("%d of %d rows rejected; the others were kept: send the rejected ones again, corrected", rejected, rows)
	}
	return nil
}
