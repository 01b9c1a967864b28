package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/dataport/dataport/mirror"
)

const mirrorUsage = `Usage:
  dataport mirror add NAME -arn ARN -region REGION          mirror an AWS Open Data Registry dataset
  dataport mirror add NAME -endpoint HOST:PORT -bucket B    mirror an S3-compatible bucket
  dataport mirror list                                      the upstreams and the cache's usage
  dataport mirror sync [-rate BYTES] UPSTREAM [PREFIX]      prefetch into the cache (resumable)
  dataport mirror remove NAME                               stop mirroring, drop the cached objects

The operator's API key is needed (-key or DATAPORT_KEY).
`

// mirrorCmd manages the domestic mirror through the running exchange's API: the
// cache lives with the server, so the server fetches and the command reports.
func mirrorCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, mirrorUsage)
		return errUsage
	}
	fs := flag.NewFlagSet("mirror "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, mirrorUsage); fs.PrintDefaults() }
	a := clientFlags(fs, getenv)
	switch cmd, rest := args[0], args[1:]; cmd {
	case "add":
		var n mirror.NewUpstream
		fs.StringVar(&n.ARN, "arn", "", "an AWS Open Data Registry resource ARN, e.g. arn:aws:s3:::noaa-ghcn-pds")
		fs.StringVar(&n.Region, "region", "", "the bucket's region")
		fs.StringVar(&n.Endpoint, "endpoint", "", "host[:port] of an S3-compatible server")
		fs.StringVar(&n.Bucket, "bucket", "", "the upstream bucket")
		fs.BoolVar(&n.Secure, "secure", false, "https to the endpoint")
		fs.StringVar(&n.Prefix, "prefix", "", "mirror only keys under this prefix")
		fs.StringVar(&n.AccessKey, "access-key", getenv("DATAPORT_UPSTREAM_ACCESS_KEY"), "upstream access key; none for open data (DATAPORT_UPSTREAM_ACCESS_KEY)")
		fs.StringVar(&n.SecretKey, "secret-key", getenv("DATAPORT_UPSTREAM_SECRET_KEY"), "upstream secret key (DATAPORT_UPSTREAM_SECRET_KEY)")
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			fs.Usage()
			return fmt.Errorf("mirror add needs the NAME the mirror shows the bucket under: %w", errUsage)
		}
		n.Name = rest[0]
		if err := fs.Parse(rest[1:]); err != nil {
			return err
		}
		var u mirror.UpstreamInfo
		if _, err := a.call(ctx, "POST", "/api/v1/mirror/upstreams", n, &u); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "mirroring %s as bucket %s (%s)\n", u.Endpoint+"/"+u.Bucket+"/"+u.Prefix, u.Name, map[bool]string{true: "anonymous", false: "with credentials"}[u.Anonymous])
		return nil
	case "list":
		if err := parse(fs, rest); err != nil {
			return err
		}
		var out struct {
			Items []mirror.UpstreamInfo `json:"items"`
			Cache mirror.Usage          `json:"cache"`
		}
		if _, err := a.call(ctx, "GET", "/api/v1/mirror/upstreams", nil, &out); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BUCKET\tUPSTREAM\tREGION\tACCESS")
		for _, u := range out.Items {
			access := "anonymous"
			if !u.Anonymous {
				access = "credentials"
			}
			fmt.Fprintf(tw, "%s\t%s/%s/%s\t%s\t%s\n", u.Name, u.Endpoint, u.Bucket, u.Prefix, u.Region, access)
		}
		tw.Flush()
		c := out.Cache
		fmt.Fprintf(stdout, "\ncache: %d objects, %d of %d bytes; %d hits, %d misses, %d upstream fetches, %d evictions\n",
			c.Objects, c.Bytes, c.MaxBytes, c.Hits, c.Misses, c.Fetches, c.Evictions)
		return nil
	case "remove":
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("mirror remove takes the bucket NAME: %w", errUsage)
		}
		if _, err := a.call(ctx, "DELETE", "/api/v1/mirror/upstreams/"+url.PathEscape(fs.Arg(0)), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "no longer mirroring %s\n", fs.Arg(0))
		return nil
	case "sync":
		rate := fs.Int64("rate", 0, "bandwidth cap in bytes per second (0: none)")
		concurrency := fs.Int("concurrency", 0, "objects fetched at once (0: the server's default)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() < 1 || fs.NArg() > 2 || *rate < 0 {
			fs.Usage()
			return fmt.Errorf("mirror sync takes UPSTREAM [PREFIX]: %w", errUsage)
		}
		return a.sync(ctx, fs.Arg(0), fs.Arg(1), *rate, *concurrency, stdout, stderr)
	default:
		fmt.Fprint(stderr, mirrorUsage)
		return fmt.Errorf("unknown mirror command %q: %w", cmd, errUsage)
	}
}

// progressLines reads a JSON-lines answer (progress, then a report) line by line,
// handing each to fn until fn says it was the last.
func progressLines(r io.Reader, fn func(line []byte) (last bool, err error)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		last, err := fn(sc.Bytes())
		if err != nil {
			return fmt.Errorf("the server's answer is not JSON lines: %w", err)
		}
		if last {
			return nil
		}
	}
	return sc.Err()
}

// sync asks the server to prefetch and draws its progress stream as a bar.
func (a *exchangeClient) sync(ctx context.Context, name, prefix string, rate int64, concurrency int, stdout, stderr io.Writer) error {
	body := map[string]any{"prefix": prefix, "bytes_per_second": rate, "concurrency": concurrency}
	b, _ := json.Marshal(body)
	res, err := a.request(ctx, "POST", "/api/v1/mirror/upstreams/"+url.PathEscape(name)+"/sync", strings.NewReader(string(b)), int64(len(b)),
		"Content-Type", "application/json")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var (
		report *mirror.SyncReport
		failed string
	)
	var pb interface{ Set64(int64) error }
	err = progressLines(res.Body, func(line []byte) (bool, error) {
		var p struct {
			Done   int64              `json:"done"`
			Total  int64              `json:"total"`
			Report *mirror.SyncReport `json:"report"`
			Error  string             `json:"error"`
		}
		if err := json.Unmarshal(line, &p); err != nil {
			return false, err
		}
		if p.Report != nil {
			report, failed = p.Report, p.Error
			return true, nil
		}
		if pb == nil {
			pb = bar(stderr, p.Total, "syncing "+name+"/"+prefix)
		}
		pb.Set64(p.Done)
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("the sync broke off (run it again to resume): %w", err)
	}
	if report == nil {
		return fmt.Errorf("the sync ended without a report (run it again to resume)")
	}
	fmt.Fprintf(stdout, "%s/%s: %d objects; %d fetched (%d bytes), %d already cached, %d failed\n",
		name, prefix, report.Objects, report.Fetched, report.Bytes, report.Skipped, len(report.Failed))
	for _, f := range report.Failed {
		fmt.Fprintf(stdout, "  failed %s: %s\n", f.Key, f.Reason)
	}
	if failed != "" {
		return fmt.Errorf("sync: %s", failed)
	}
	if len(report.Failed) > 0 {
		return fmt.Errorf("%d objects failed; run the sync again to retry them", len(report.Failed))
	}
	return nil
}
