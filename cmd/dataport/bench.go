package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

const benchUsage = `Usage:
  dataport bench -url URL[,URL…] [-key KEY] [-duration 60s] [-scale 1] [-workers 8] [-mix search=50,deal=10,…] [-seed 1] [-json]

Drives a running exchange with a mix of its users' actions for a fixed time and prints,
per operation, the count, the errors, the throughput and latency percentiles. With several
URLs (replicas of one exchange) the requests are spread over them in turn.

First, untimed, it builds a world through the public API with the operator's key (-key or
DATAPORT_BENCH_KEY): -scale times the demo's participants (suppliers, a whitelisted agent
with certified agency contracts for the foreign suppliers, buyers, institutions, merchants)
and its 210 listed products, every file-delivered product with a sealed file. Its names
carry a run id, so a rerun against the same exchange builds a world of its own.

The operations:
  search    a buyer's catalog query, with facets, in Chinese or English, sometimes filtered
  deal      a whole deal: request, the provider signs, the buyer signs, finalised, the file
            downloaded and checked (which confirms delivery and releases the escrow)
  download  a buyer downloads a file of a finalised deal, read whole, its SHA-256 checked
  ingest    a merchant sends a batch of order events (-ingest-rows), a fifth of them updates
  decision  a merchant's credit decision, then an application on the offer it made, which
            the institution's rules decide
`

// benchOps are the operations of the mix, in the order the report lists them.
var benchOps = []string{"search", "deal", "download", "ingest", "decision"}

const benchDefaultMix = "search=50,deal=10,download=15,ingest=15,decision=10"

type benchConfig struct {
	urls       []string
	key        string
	duration   time.Duration
	scale      int
	workers    int
	mix        map[string]int
	seed       uint64
	json       bool
	fileSize   int
	ingestRows int
	setupPar   int
}

// benchCmd is `dataport bench`.
func benchCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	// Flag errors become one line (main prints them); -h prints the usage.
	fs.SetOutput(io.Discard)
	urls := fs.String("url", getenv("DATAPORT_URL"), "the exchange's URL; several, comma-separated, for replicas (DATAPORT_URL)")
	key := fs.String("key", getenv("DATAPORT_BENCH_KEY"), "the operator's API key (DATAPORT_BENCH_KEY)")
	duration := fs.Duration("duration", 60*time.Second, "how long the mix runs")
	scale := fs.Int("scale", 1, "the world's size in demo worlds (1 to 100)")
	workers := fs.Int("workers", 8, "concurrent clients (1 to 1024)")
	mix := fs.String("mix", benchDefaultMix, "the operations' weights; an operation left out does not run")
	seed := fs.Uint64("seed", 1, "seed of the operations' choices, the files' bytes and the merchants' histories")
	asJSON := fs.Bool("json", false, "print the results as JSON")
	fileSize := fs.Int("file-size", 256<<10, "bytes in each product's file (1 to 1 GiB)")
	ingestRows := fs.Int("ingest-rows", 1000, "order events in each ingested batch (1 to 100,000)")
	setupPar := fs.Int("setup-workers", 4, "concurrent requests while the world is built")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, benchUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return err
		}
		return fmt.Errorf("bench: %v: %w", err, errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q: %w", fs.Arg(0), errUsage)
	}
	c := benchConfig{key: strings.TrimSpace(*key), duration: *duration, scale: *scale, workers: *workers, seed: *seed,
		json: *asJSON, fileSize: *fileSize, ingestRows: *ingestRows, setupPar: *setupPar}
	for _, u := range strings.Split(*urls, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("bench: -url %q is not an http(s) URL: %w", u, errUsage)
		}
		c.urls = append(c.urls, u)
	}
	var err error
	switch {
	case len(c.urls) == 0:
		err = errors.New("-url names no server")
	case c.key == "":
		err = errors.New("no operator key: -key or DATAPORT_BENCH_KEY")
	case c.duration <= 0:
		err = fmt.Errorf("-duration %v is not positive", c.duration)
	case c.scale < 1 || c.scale > 100:
		err = fmt.Errorf("-scale %d is not from 1 to 100", c.scale)
	case c.workers < 1 || c.workers > 1024:
		err = fmt.Errorf("-workers %d is not from 1 to 1024", c.workers)
	case c.fileSize < 1 || c.fileSize > 1<<30:
		err = fmt.Errorf("-file-size %d is not from 1 to 1 GiB", c.fileSize)
	case c.ingestRows < 1 || c.ingestRows > 100_000:
		err = fmt.Errorf("-ingest-rows %d is not from 1 to 100,000", c.ingestRows)
	case c.setupPar < 1 || c.setupPar > 64:
		err = fmt.Errorf("-setup-workers %d is not from 1 to 64", c.setupPar)
	}
	if err == nil {
		c.mix, err = parseMix(*mix)
	}
	if err != nil {
		return fmt.Errorf("bench: %v: %w", err, errUsage)
	}
	return runBench(ctx, c, stdout, stderr)
}

// parseMix reads "op=weight,…"; an operation not named has weight 0.
func parseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("-mix %q: want op=weight, e.g. search=50", part)
		}
		name = strings.TrimSpace(name)
		if !slices.Contains(benchOps, name) {
			return nil, fmt.Errorf("-mix: no operation %q (%s)", name, strings.Join(benchOps, ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 || n > 1_000_000 {
			return nil, fmt.Errorf("-mix %s: the weight is a whole number from 0 to 1,000,000", part)
		}
		if _, dup := mix[name]; dup {
			return nil, fmt.Errorf("-mix names %s twice", name)
		}
		mix[name] = n
		total += n
	}
	if total == 0 {
		return nil, errors.New("-mix gives no operation a weight")
	}
	return mix, nil
}

// benchResult is one operation's figures.
type benchResult struct {
	Op        string   `json:"op"`
	Count     int      `json:"count" doc:"operations that succeeded"`
	Errors    int      `json:"errors"`
	OpsPerSec float64  `json:"ops_per_s"`
	P50       float64  `json:"p50_ms"`
	P90       float64  `json:"p90_ms"`
	P99       float64  `json:"p99_ms"`
	Max       float64  `json:"max_ms"`
	FirstErrs []string `json:"first_errors,omitempty"`
}

type benchReport struct {
	Run        string         `json:"run"`
	URLs       []string       `json:"urls"`
	Scale      int            `json:"scale"`
	Workers    int            `json:"workers"`
	Seconds    float64        `json:"seconds"`
	SetupSecs  float64        `json:"setup_seconds"`
	Mix        map[string]int `json:"mix"`
	World      string         `json:"world"`
	ClientCPU  float64        `json:"client_cpu_seconds" doc:"user and system CPU the bench itself used while the mix ran"`
	Started    time.Time      `json:"started"`
	Operations []benchResult  `json:"operations"`
	Total      benchResult    `json:"total"`
}

// opSamples is what one worker saw of one operation.
type opSamples struct {
	lat  []time.Duration
	errs int
	msgs []string
}

// maxErrMessages is how many error messages per operation the report keeps.
const maxErrMessages = 3

func runBench(ctx context.Context, c benchConfig, stdout, stderr io.Writer) error {
	api := newBenchAPI(c.urls, c.workers+c.setupPar)
	began := time.Now()
	fmt.Fprintf(stderr, "bench: building the world at scale %d on %s\n", c.scale, strings.Join(c.urls, ", "))
	w, err := buildWorld(ctx, api, c, stderr)
	if err != nil {
		return fmt.Errorf("bench setup: %w", err)
	}
	setup := time.Since(began)
	w.api = api.impatient()
	fmt.Fprintf(stderr, "bench: world %s built in %.1fs: %s; running %v with %d workers\n", w.run, setup.Seconds(), w.summary(), c.duration, c.workers)

	// Each worker draws its operations from its own stream of the seed.
	var names []string
	var cum []int
	total := 0
	for _, op := range benchOps {
		if c.mix[op] > 0 {
			total += c.mix[op]
			names = append(names, op)
			cum = append(cum, total)
		}
	}
	running, stop := context.WithTimeout(ctx, c.duration)
	defer stop()
	results := make([]map[string]*opSamples, c.workers)
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range c.workers {
		results[i] = map[string]*opSamples{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.seed, uint64(i)+1))
			for running.Err() == nil {
				k := rng.IntN(total)
				op := names[sort.SearchInts(cum, k+1)]
				s := results[i][op]
				if s == nil {
					s = &opSamples{}
					results[i][op] = s
				}
				// An operation runs to its end even past the deadline: a deal
				// cut off half way would count as an error that is none.
				t0 := time.Now()
				err := w.run1(ctx, op, rng)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					s.errs++
					if len(s.msgs) < maxErrMessages {
						s.msgs = append(s.msgs, oneLine(err))
					}
					continue
				}
				s.lat = append(s.lat, d)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	if err := ctx.Err(); err != nil {
		return err
	}

	rep := benchReport{Run: w.run, URLs: c.urls, Scale: c.scale, Workers: c.workers, Seconds: elapsed.Seconds(),
		SetupSecs: setup.Seconds(), Mix: c.mix, World: w.summary(), ClientCPU: cpu.Seconds(), Started: start.UTC()}
	var all []time.Duration
	allErrs := 0
	for _, op := range names {
		var m opSamples
		for _, r := range results {
			if s := r[op]; s != nil {
				m.lat = append(m.lat, s.lat...)
				m.errs += s.errs
				for _, msg := range s.msgs {
					if len(m.msgs) < maxErrMessages {
						m.msgs = append(m.msgs, msg)
					}
				}
			}
		}
		all = append(all, m.lat...)
		allErrs += m.errs
		r := summarise(op, m.lat, elapsed)
		r.Errors, r.FirstErrs = m.errs, m.msgs
		rep.Operations = append(rep.Operations, r)
	}
	rep.Total = summarise("total", all, elapsed)
	rep.Total.Errors = allErrs
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBench(stdout, rep)
	}
	if allErrs > 0 {
		return fmt.Errorf("%d operations failed", allErrs)
	}
	return nil
}

// summarise gives exact percentiles over every sample (nearest rank).
func summarise(op string, lat []time.Duration, elapsed time.Duration) benchResult {
	r := benchResult{Op: op, Count: len(lat), OpsPerSec: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) == 0 {
		return r
	}
	slices.Sort(lat)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return ms(lat[max(0, min(i, len(lat)-1))])
	}
	r.P50, r.P90, r.P99, r.Max = rank(0.50), rank(0.90), rank(0.99), ms(lat[len(lat)-1])
	return r
}

// processCPU is the user and system CPU time this process has used: the bench
// shares the machine with the exchange it drives, so its own share is reported.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }

func printBench(out io.Writer, rep benchReport) {
	var mix []string
	for _, op := range benchOps {
		if rep.Mix[op] > 0 {
			mix = append(mix, fmt.Sprintf("%s=%d", op, rep.Mix[op]))
		}
	}
	fmt.Fprintf(out, "run %s: %d server(s), scale %d (%s), %d workers, %.1fs, mix %s (setup %.1fs)\n\n",
		rep.Run, len(rep.URLs), rep.Scale, rep.World, rep.Workers, rep.Seconds, strings.Join(mix, ","), rep.SetupSecs)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tcount\terrors\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
	for _, r := range append(rep.Operations, rep.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t\n", r.Op, r.Count, r.Errors, r.OpsPerSec, r.P50, r.P90, r.P99, r.Max)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nthe bench's own CPU while the mix ran: %.1fs (%.2f cores)\n", rep.ClientCPU, rep.ClientCPU/rep.Seconds)
	for _, r := range rep.Operations {
		for _, m := range r.FirstErrs {
			fmt.Fprintf(out, "error: %s: %s\n", r.Op, m)
		}
	}
}
