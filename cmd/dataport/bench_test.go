package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// dataport bench against a running exchange: it builds its world through the
// API, runs every operation of the mix for three seconds, and prints a table with
// a row per operation and the total, every operation having run without error.
// A second run against the same exchange builds a world of its own beside the
// first (its names carry the run id) and reports as JSON.
func TestBenchCommand(t *testing.T) {
	r := start(t, []string{"serve", "-addr", "127.0.0.1:0", "-data", t.TempDir(), "-log-format", "text"}, nil)
	defer r.stop(t)
	key := regexp.MustCompile(`dp\.key_\S+`).FindString(r.stdout.String())
	bench := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"bench", "-url", r.url, "-workers", "4", "-file-size", "65536"}, args...),
			env(map[string]string{"DATAPORT_BENCH_KEY": key}), &out, &errOut)
		if err != nil {
			t.Logf("bench %v: %v\n%s", args, err, errOut.String())
		}
		return out.String(), err
	}

	out, err := bench("-duration", "3s", "-scale", "1", "-seed", "7")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	row := regexp.MustCompile(`(?m)^\s*(\w+)\s+(\d+)\s+(\d+)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s+(\d+\.\d)\s*$`)
	rows := map[string][]string{}
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		rows[m[1]] = m[2:]
	}
	if !strings.Contains(out, "operation  count  errors  ops/s  p50 ms  p90 ms  p99 ms  max ms") {
		t.Fatalf("no table header in:\n%s", out)
	}
	total := 0
	for _, op := range append(benchOps, "total") {
		f, ok := rows[op]
		if !ok {
			t.Fatalf("no row for %s in:\n%s", op, out)
		}
		count, _ := strconv.Atoi(f[0])
		p50, _ := strconv.ParseFloat(f[3], 64)
		p99, _ := strconv.ParseFloat(f[5], 64)
		max, _ := strconv.ParseFloat(f[6], 64)
		if count == 0 || f[1] != "0" || p50 <= 0 || p50 > p99 || p99 > max {
			t.Errorf("%s: count %s, errors %s, p50 %s, p99 %s, max %s", op, f[0], f[1], f[3], f[5], f[6])
		}
		if op != "total" {
			total += count
		}
	}
	if n, _ := strconv.Atoi(rows["total"][0]); n != total {
		t.Errorf("total %d, the operations sum to %d", n, total)
	}
	if !regexp.MustCompile(`scale 1 \(15 participants, 210 listed products, 105 with a file, 2 merchants\)`).MatchString(out) {
		t.Errorf("the world is not the demo's size:\n%s", out)
	}

	// Again, on the same exchange, searches and downloads only, as JSON.
	out, err = bench("-duration", "1s", "-mix", "search=3,download=1", "-json")
	if err != nil {
		t.Fatalf("a second run: %v\n%s", err, out)
	}
	for _, want := range []string{`"op": "search"`, `"op": "download"`, `"errors": 0`} {
		if !strings.Contains(out, want) {
			t.Fatalf("bench -json has no %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"op": "deal"`) {
		t.Fatalf("an operation outside the mix ran:\n%s", out)
	}
}

// Wrong flags: one line, a usage error, and nothing sent (the URL has no server).
func TestBenchFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"-key", "k"}, "-url"},
		{[]string{"-url", "http://127.0.0.1:1"}, "operator key"},
		{[]string{"-url", "ftp://x", "-key", "k"}, "not an http(s) URL"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-duration", "0s"}, "-duration"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-scale", "0"}, "-scale"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-workers", "0"}, "-workers"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-mix", "search=1,browse=2"}, `no operation "browse"`},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-mix", "search=0"}, "no operation a weight"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-mix", "search=-1"}, "whole number"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-mix", "search"}, "op=weight"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-duration", "soon"}, "invalid value"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "extra"}, "unexpected argument"},
	} {
		err := run(context.Background(), append([]string{"bench"}, c.args...), env(nil), io.Discard, io.Discard)
		if err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.says) || strings.Contains(oneLine(err), "\n") {
			t.Errorf("%v: %v, want a usage error saying %q", c.args, err, c.says)
		}
	}
}
